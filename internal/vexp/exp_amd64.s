#include "textflag.h"

// func expAVX2(n int, dst, src unsafe.Pointer, table unsafe.Pointer)
// n is the number of 4-lane groups; the table layout is that of exp_amd64.go
// (32 bytes per constant).
TEXT ·expAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ dst+8(FP), DI
	MOVQ src+16(FP), SI
	MOVQ table+24(FP), BX

loop:
	VMOVUPD (SI), Y0
	// Clamp into [lowest, highest]; the NaN-propagating operand order
	// keeps NaN in Y4.
	VMOVUPD 96(BX), Y4
	VMAXPD  Y0, Y4, Y4
	VMOVUPD 128(BX), Y7
	VMINPD  Y4, Y7, Y4
	// k = round(x log2 e), r = x - k ln2.
	VMULPD       (BX), Y4, Y1
	VROUNDPD     $0, Y1, Y1
	VMOVAPD      Y4, Y2
	VFNMADD231PD 32(BX), Y1, Y2
	VFNMADD231PD 64(BX), Y1, Y2
	// p = sum_k r^k / k!, Horner from 1/13!.
	VMOVUPD     192(BX), Y3
	VFMADD213PD 224(BX), Y2, Y3
	VFMADD213PD 256(BX), Y2, Y3
	VFMADD213PD 288(BX), Y2, Y3
	VFMADD213PD 320(BX), Y2, Y3
	VFMADD213PD 352(BX), Y2, Y3
	VFMADD213PD 384(BX), Y2, Y3
	VFMADD213PD 416(BX), Y2, Y3
	VFMADD213PD 448(BX), Y2, Y3
	VFMADD213PD 480(BX), Y2, Y3
	VFMADD213PD 512(BX), Y2, Y3
	VFMADD213PD 544(BX), Y2, Y3
	VFMADD213PD 576(BX), Y2, Y3
	VFMADD213PD 608(BX), Y2, Y3
	// 2^k from the exponent bits.
	VCVTPD2DQY Y1, X5
	VPMOVSXDQ  X5, Y5
	VPADDQ     160(BX), Y5, Y5
	VPSLLQ     $52, Y5, Y5
	VMULPD     Y5, Y3, Y3
	// Zero the lanes below the clamp.
	VCMPPD  $1, 96(BX), Y0, Y6
	VANDNPD Y3, Y6, Y3
	VMOVUPD Y3, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     loop
	VZEROUPPER
	RET
