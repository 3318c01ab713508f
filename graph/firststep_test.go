package graph

import (
	"testing"

	"github.com/mhattn/mha/layers"
)

func TestFirstStepMovesWFromZero(t *testing.T) {
	c := layers.Config{Heads: 2, Tokens: 4, Dim: 3}
	data := randomData(6, 4, 3, 30)
	p, err := layers.NewParams(arch(t, c), layers.Init{Scheme: layers.InitZeroW, UNorm: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	q, err := FirstStep(arch(t, c), p, data, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	_, grad := refRisk(c, p, data)
	want := p.Trainable(arch(t, c), nil)
	for i := range want {
		want[i] -= 0.5 * grad[i]
	}
	if d := relDiff(q.Trainable(arch(t, c), nil), want); d > 1e-12 {
		t.Errorf("first step differs from theta_0 - eta grad F by %.3g", d)
	}
	for _, w := range p.Get("W") {
		if w != 0 {
			t.Fatal("FirstStep changed its input")
		}
	}
	if _, err := FirstStep(arch(t, c), p, data, 0); err == nil {
		t.Error("eta = 0 accepted")
	}
}
