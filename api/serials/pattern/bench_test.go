package pattern

import (
	"testing"
	"time"
)

// go test -run '^$' -bench . ./api/serials/pattern/
func BenchmarkPredict(b *testing.B) {
	for _, c := range []struct {
		name, id string
		first    First
		until    string
	}{
		{"daily-except-sunday-1y", "daily-newspaper-except-sunday", First{d("2027-01-01"), []int{1, 1}}, "2027-12-31"},
		{"weekly-1y", "weekly-magazine", First{d("2027-01-07"), []int{1, 1}}, "2027-12-31"},
		{"monthly-combined-10y", "monthly-july-august-combined", First{d("2027-01-15"), []int{1, 1}}, "2036-12-31"},
	} {
		p, _ := Shipped(c.id)
		until, _ := time.Parse(time.DateOnly, c.until)
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				issues, err := Predict(&p, c.first, until)
				if err != nil {
					b.Fatal(err)
				}
				n = len(issues)
			}
			b.ReportMetric(float64(n), "issues/op")
		})
	}
}
