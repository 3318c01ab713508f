package layers

// PackW converts public W (Heads x d x d) into the graph layout, a
// d x (Heads*d) matrix: [j, h*d+k] = W_h[j,k] for all-token queries, and
// [k, h*d+j] = W_h[j,k] for first-token (each head transposed).
func PackW(c Config, public, packed []float64) {
	d, heads := c.Dim, c.Heads
	for h := 0; h < heads; h++ {
		for j := 0; j < d; j++ {
			for k := 0; k < d; k++ {
				v := public[(h*d+j)*d+k]
				if c.IsFirstToken() {
					packed[k*heads*d+h*d+j] = v
				} else {
					packed[j*heads*d+h*d+k] = v
				}
			}
		}
	}
}

// UnpackW is the inverse of PackW.
func UnpackW(c Config, packed, public []float64) {
	d, heads := c.Dim, c.Heads
	for h := 0; h < heads; h++ {
		for j := 0; j < d; j++ {
			for k := 0; k < d; k++ {
				if c.IsFirstToken() {
					public[(h*d+j)*d+k] = packed[k*heads*d+h*d+j]
				} else {
					public[(h*d+j)*d+k] = packed[j*heads*d+h*d+k]
				}
			}
		}
	}
}

// PackU converts public U (Heads x Rows x d) into the graph layout
// (Rows x Heads x d), matching query row r*H+h.
func PackU(c Config, public, packed []float64) {
	d, heads, rows := c.Dim, c.Heads, c.Rows()
	for h := 0; h < heads; h++ {
		for r := 0; r < rows; r++ {
			copy(packed[(r*heads+h)*d:(r*heads+h+1)*d], public[(h*rows+r)*d:(h*rows+r+1)*d])
		}
	}
}

// UnpackU is the inverse of PackU.
func UnpackU(c Config, packed, public []float64) {
	d, heads, rows := c.Dim, c.Heads, c.Rows()
	for h := 0; h < heads; h++ {
		for r := 0; r < rows; r++ {
			copy(public[(h*rows+r)*d:(h*rows+r+1)*d], packed[(r*heads+h)*d:(r*heads+h+1)*d])
		}
	}
}

// PackTrainable splits a trainable vector theta (layout of
// Params.Trainable) into packed blocks; a block the config does not train is
// left untouched and may be nil.
func PackTrainable(c Config, theta, packedU, packedW []float64) {
	if c.TrainsU() {
		PackU(c, theta[:c.USize()], packedU)
		theta = theta[c.USize():]
	}
	if c.TrainsW() {
		PackW(c, theta[:c.WSize()], packedW)
	}
}

// UnpackTrainable is the inverse of PackTrainable: it writes the trained
// packed blocks into the trainable vector dst.
func UnpackTrainable(c Config, packedU, packedW, dst []float64) {
	if c.TrainsU() {
		UnpackU(c, packedU, dst[:c.USize()])
		dst = dst[c.USize():]
	}
	if c.TrainsW() {
		UnpackW(c, packedW, dst[:c.WSize()])
	}
}
