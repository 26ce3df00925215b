package tenants

import (
	"reflect"
	"testing"
)

func TestPositional(t *testing.T) {
	for _, c := range []struct {
		in    string
		named map[string]any
		out   string
		args  []any
	}{
		{"SELECT 1", nil, "SELECT 1", nil},
		{"a = @a AND b = @b OR a2 = @a", map[string]any{"a": 1, "b": "x"}, "a = $1 AND b = $2 OR a2 = $1", []any{1, "x"}},
		{"x = @unknown AND y = @y", map[string]any{"y": 2}, "x = @unknown AND y = $1", []any{2}},
		{"CAST(@day AS date) >= @day_end", map[string]any{"day": "d", "day_end": "e"}, "CAST($1 AS date) >= $2", []any{"d", "e"}},
	} {
		out, args := Positional(c.in, c.named)
		if out != c.out || !reflect.DeepEqual(args, c.args) {
			t.Errorf("Positional(%q) = %q %v, want %q %v", c.in, out, args, c.out, c.args)
		}
	}
}
