package tenants

import (
	"reflect"
	"testing"
)

func TestCompileNamed(t *testing.T) {
	for _, c := range []struct {
		in    string
		named map[string]any
		out   string
		args  []any
	}{
		{"SELECT 1", nil, "SELECT 1", []any{}},
		{"a = @a AND b = @b OR a2 = @a", map[string]any{"a": 1, "b": "x"}, "a = $1 AND b = $2 OR a2 = $1", []any{1, "x"}},
		{"x = @missing AND y = @y", map[string]any{"y": 2}, "x = $1 AND y = $2", []any{nil, 2}},
		{"CAST(@day AS date) >= @day_end", map[string]any{"day": "d", "day_end": "e"}, "CAST($1 AS date) >= $2", []any{"d", "e"}},
	} {
		st := CompileNamed(c.in).Step(c.named, nil)
		if st.SQL != c.out || !reflect.DeepEqual(st.Args, c.args) {
			t.Errorf("CompileNamed(%q) = %q %v, want %q %v", c.in, st.SQL, st.Args, c.out, c.args)
		}
	}
}
