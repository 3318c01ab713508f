package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// toy is a config with nested, string, float and seed fields.
type toy struct {
	Settings
	A    int `json:"a"`
	Data struct {
		Zeta float64 `json:"zeta"`
		Seed uint64  `json:"seed"`
	} `json:"data"`
	Model struct {
		Kind string `json:"kind"`
	} `json:"model"`
	List []int `json:"list"`
}

func (c *toy) Validate() error {
	var errs []error
	if c.A < 1 || c.A > 10 {
		errs = append(errs, &FieldError{Field: "a", Value: c.A, Want: "an integer in [1, 10]"})
	}
	if !(c.Data.Zeta > 0 && c.Data.Zeta <= 1) {
		errs = append(errs, &FieldError{Field: "data.zeta", Value: c.Data.Zeta, Want: "a value in (0, 1]"})
	}
	return errors.Join(errs...)
}

func newToy() *toy {
	c := &toy{Settings: DefaultSettings("out"), A: 1}
	c.Data.Zeta, c.Data.Seed, c.Model.Kind = 0.25, 1, "paper"
	return c
}

func axis(key string, vals ...string) Axis {
	a := Axis{Key: key}
	for _, v := range vals {
		a.Values = append(a.Values, json.RawMessage(v))
	}
	return a
}

// TestApplyAndGrid: -set and -sweep reach any key, nested or added
// later, and the grid is the product of the axes, first axis outermost.
func TestApplyAndGrid(t *testing.T) {
	base := newToy()
	base.Sweep = Axes{axis("a", "1", "2")}
	o := Overrides{
		Sets:   []Set{{Key: "model.kind", Value: jsonValue("kq")}, {Key: "list", Value: jsonValue("[3,4]")}},
		Sweeps: []Axis{{Key: "data.zeta", Values: []json.RawMessage{jsonValue("0.5"), jsonValue("0.125")}}},
	}
	c, err := Apply(base, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	tc := c.(*toy)
	if tc.Model.Kind != "kq" || len(tc.List) != 2 || base.Model.Kind != "paper" {
		t.Errorf("applied %+v (base %+v)", tc, base)
	}
	pts, err := Grid("toy", c, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, p := range pts {
		labels = append(labels, p.Label)
		pc := p.Config.(*toy)
		if v, _ := p.Values[1].JSON.MarshalJSON(); fmt.Sprint(pc.Data.Zeta) != string(v) || len(pc.Sweep) != 0 {
			t.Errorf("%s: config %+v", p.Label, pc)
		}
	}
	if got := strings.Join(labels, " "); got != "a1-zeta0.5 a1-zeta0.125 a2-zeta0.5 a2-zeta0.125" {
		t.Errorf("labels %s", got)
	}
	if pts[0].ID == pts[1].ID || !strings.HasPrefix(pts[0].Dir, "a1-zeta0.5-") {
		t.Errorf("ids %s %s, dir %s", pts[0].ID, pts[1].ID, pts[0].Dir)
	}
}

// TestIdentity: a point's identity follows its resolved config, the
// experiment and the code version, and not the runner's settings.
func TestIdentity(t *testing.T) {
	a, b := newToy(), newToy()
	b.Out, b.Workers, b.CheckpointEvery = "elsewhere", 7, 3
	b.Sweep = Axes{axis("a", "1")}
	if Identity("toy", "v1", a) != Identity("toy", "v1", b) {
		t.Error("identity depends on out, workers, checkpoint_every or sweep")
	}
	for name, id := range map[string]string{
		"code":       Identity("toy", "v2", a),
		"experiment": Identity("other", "v1", a),
		"config":     Identity("toy", "v1", func() *toy { c := newToy(); c.Data.Seed = 2; return c }()),
	} {
		if id == Identity("toy", "v1", a) {
			t.Errorf("identity does not change with the %s", name)
		}
	}
	if p := ProgramVersion(); p.Code() == "" || p.Source == "" {
		t.Errorf("program version %+v", p)
	}
}

// TestBadOverrides: every bad -set or -sweep names the key and what is
// wrong; unknown keys come with the nearest valid ones.
func TestBadOverrides(t *testing.T) {
	set := func(k, v string) Overrides { return Overrides{Sets: []Set{{Key: k, Value: jsonValue(v)}}} }
	sweep := func(k string, vs ...string) Overrides {
		a := Axis{Key: k}
		for _, v := range vs {
			a.Values = append(a.Values, jsonValue(v))
		}
		return Overrides{Sweeps: []Axis{a}}
	}
	for _, tc := range []struct {
		name string
		o    Overrides
		want []string
	}{
		{"unknown key", set("data.zetta", "0.5"), []string{`-set: unknown key "data.zetta"`, "data.zeta"}},
		{"unknown last part", set("zeta", "0.5"), []string{`"zeta"`, "data.zeta"}},
		{"unknown swept key", sweep("dat.seed", "1"), []string{`-sweep: unknown key "dat.seed"`, "data.seed"}},
		{"wrong type", set("a", `"x"`), []string{"-set a = \"x\"", "an integer"}},
		{"wrong type in axis", sweep("data.zeta", "0.5", "high"), []string{"data.zeta", "high", "a number"}},
		{"out of range", set("a", "11"), []string{"a = 11", "[1, 10]"}},
		{"out of range in axis", sweep("a", "1", "0"), []string{"a = 0", "[1, 10]"}},
		{"empty axis", sweep("a"), []string{"sweep a", "no values"}},
		{"repeated value", sweep("data.zeta", "0.5", "5e-1"), []string{"data.zeta", "0.5 appears twice"}},
		{"runner key", sweep("out", `"a"`, `"b"`), []string{"out", "cannot be swept"}},
		{"sweep key", set("sweep", "{}"), []string{"-sweep key=v1,v2"}},
		{"set and swept", Overrides{Sets: []Set{{Key: "a", Value: jsonValue("2")}}, Sweeps: []Axis{axis("a", "1", "2")}}, []string{"a is both set", "swept"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Apply(newToy(), nil, tc.o)
			if err == nil {
				_, err = Grid("toy", c, false, nil)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// A key swept by the file (not a default axis) cannot also be set.
	c := newToy()
	c.Sweep = Axes{axis("a", "1", "2")}
	if _, err := Apply(c, nil, set("a", "3")); err == nil || !strings.Contains(err.Error(), "both set") {
		t.Errorf("set of a file axis: %v", err)
	}
	// A default axis gives way to a -set of its key.
	got, err := Apply(c, []string{"a"}, set("a", "3"))
	if err != nil || len(got.RunSettings().Sweep) != 0 || got.(*toy).A != 3 {
		t.Errorf("set of a default axis: %v, %+v", err, got)
	}
}

// TestGridLimit: a grid above MaxPoints needs allowLarge.
func TestGridLimit(t *testing.T) {
	c := newToy()
	var a, b []string
	for i := range 101 {
		a, b = append(a, fmt.Sprint(i)), append(b, fmt.Sprintf("%q", fmt.Sprint("k", i)))
	}
	c.Sweep = Axes{axis("data.seed", a...), axis("list", "[1]", "[2]")}
	if _, err := Grid("toy", c, false, nil); err != nil {
		t.Fatalf("202 points: %v", err)
	}
	c.Sweep = Axes{axis("data.seed", a...), axis("model.kind", b...)}
	if _, err := Grid("toy", c, false, nil); err == nil || !strings.Contains(err.Error(), "more than 10000 points") || !strings.Contains(err.Error(), "-allow-large-grid") {
		t.Errorf("101 x 101 points: %v", err)
	}
}

// TestReadConfigFile: a file's keys are checked by their dotted path, its
// sweep keeps its order, and types and syntax are reported with the
// position.
func TestReadConfigFile(t *testing.T) {
	c, err := ReadConfigFile(strings.NewReader(`{"a": 3, "sweep": {"model.kind": ["x", "y"], "data.seed": [1, 2]}}`), newToy())
	if err != nil {
		t.Fatal(err)
	}
	if c.(*toy).A != 3 || strings.Join(c.RunSettings().Sweep.Keys(), ",") != "model.kind,data.seed" {
		t.Errorf("read %+v", c)
	}
	for _, tc := range []struct{ json, want string }{
		{`{"data": {"zetta": 1}}`, `unknown key "data.zetta"; nearest valid keys: data.zeta`},
		{`{"a": "x"}`, "field a at line 1"},
		{`{"a": 1,,}`, "malformed JSON"},
		{`{"sweep": {"a": 1}}`, "want a list"},
		{`{"sweep": {"a": [1], "a": [2]}}`, "twice"},
		{`null`, "not a JSON object"},
	} {
		if _, err := ReadConfigFile(strings.NewReader(tc.json), newToy()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.json, err, tc.want)
		}
	}
}

func TestStats(t *testing.T) {
	s := NewStats([]float64{1, 2, 3})
	// t_{2, 0.975} = 4.302653: half-width 4.302653 * 1 / sqrt(3).
	if s.Mean != 2 || s.SD != 1 || abs(s.Hi-2-4.302652729911275/1.7320508075688772) > 1e-9 || s.Lo != 4-s.Hi {
		t.Errorf("stats %+v", s)
	}
	if one := NewStats([]float64{5}); one.Lo != 5 || one.Hi != 5 || one.N != 1 {
		t.Errorf("one value: %+v", one)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestParseSweep(t *testing.T) {
	a, err := ParseSweep(`list=[1,2],[3], "a,b" ,x`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range a.Values {
		got = append(got, string(v))
	}
	if a.Key != "list" || strings.Join(got, " ") != `[1,2] [3] "a,b" "x"` {
		t.Errorf("ParseSweep: %s %q", a.Key, got)
	}
	if _, err := ParseSweep("=1,2"); err == nil {
		t.Error("no key accepted")
	}
}

// TestLabelsUnique: values whose label texts coincide still get distinct
// labels.
func TestLabelsUnique(t *testing.T) {
	c := newToy()
	c.Sweep = Axes{axis("model.kind", `"a b"`, `"a_b"`)}
	pts, err := Grid("toy", c, false, nil)
	if err != nil || pts[0].Label == pts[1].Label {
		t.Errorf("labels %q, %q (%v)", pts[0].Label, pts[1].Label, err)
	}
}
