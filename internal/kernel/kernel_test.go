package kernel

import (
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	saved := Name()
	defer Use(saved)
	for _, c := range []struct {
		env, want string
		err       bool
	}{
		{"", map[bool]string{true: Vectorized, false: Portable}[available], false},
		{"auto", map[bool]string{true: Vectorized, false: Portable}[available], false},
		{"portable", Portable, false},
		{"vectorized", Vectorized, !available},
		{"avx2", map[bool]string{true: Vectorized, false: Portable}[available], true},
		{"Portable", map[bool]string{true: Vectorized, false: Portable}[available], true},
	} {
		t.Setenv(Env, c.env)
		got, err := Select()
		if (err != nil) != c.err {
			t.Errorf("%s=%q: error %v, want error %v", Env, c.env, err, c.err)
		}
		if err != nil && c.env != "vectorized" {
			for _, allowed := range []string{Env, `"auto"`, `"vectorized"`, `"portable"`} {
				if !strings.Contains(err.Error(), allowed) {
					t.Errorf("%s=%q: error %q does not name %s", Env, c.env, err, allowed)
				}
			}
		}
		if got != c.want || Name() != c.want {
			t.Errorf("%s=%q: Select = %q, Name = %q, want %q", Env, c.env, got, Name(), c.want)
		}
	}
}
