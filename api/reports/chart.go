package reports

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/stacks-ils/stacks/api/errs"
)

// labelColumns name a row on a chart's x axis (in this order).
var labelColumns = []string{"member_name", "title", "class", "branch_name", "item_type", "patron_category", "fund_code", "vendor_code", "day", "week", "month", "hour"}

// maxBars keeps a bar chart readable; the CSV has every row.
const maxBars = 60

// Chart draws a report's result as SVG with gonum/plot: a line per value
// column over the periods of a time series, grouped bars otherwise. Text
// goes through the SVG writer's XML escaping, so titles with & or < stay
// well-formed.
func Chart(r *Report, res *Result) ([]byte, error) {
	if r.Chart == "" {
		return nil, errs.E(errs.Invalid, "no_chart", r.Name+" is a list and has no chart; use JSON or CSV")
	}
	p, width, err := chartPlot(r, res)
	if err != nil {
		return nil, err
	}
	c := vgsvg.New(width, 11*vg.Centimeter)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("chart svg: %w", err)
	}
	return buf.Bytes(), nil
}

// chartPlot builds the report's chart and the width it reads best at.
func chartPlot(r *Report, res *Result) (*plot.Plot, vg.Length, error) {
	var labelIdx, valueIdx []int
	for _, name := range labelColumns {
		if i := slices.IndexFunc(res.Columns, func(c Column) bool { return c.Name == name }); i >= 0 {
			labelIdx = append(labelIdx, i)
		}
	}
	for _, name := range r.chartValues {
		if i := slices.IndexFunc(res.Columns, func(c Column) bool { return c.Name == name }); i >= 0 {
			valueIdx = append(valueIdx, i)
		}
	}
	rows := res.Rows
	line := r.Chart == "line" && len(res.Columns) > 0 && slices.Contains([]string{"day", "week", "month", "hour"}, res.Columns[0].Name)
	if !line && len(rows) > maxBars {
		rows = rows[:maxBars]
	}
	labels := make([]string, len(rows))
	for i, row := range rows {
		var parts []string
		for _, j := range labelIdx {
			if v := csvCell(row[j]); v != "" {
				parts = append(parts, v)
			}
		}
		labels[i] = strings.Join(parts, " · ")
		if labels[i] == "" {
			labels[i] = "(none)"
		}
	}

	p := plot.New()
	p.Title.Text = r.Title
	if from, ok := res.Params["from"].(string); ok {
		p.Title.Text += fmt.Sprintf(" (%s to %s)", from, res.Params["to"])
	}
	p.Y.Label.Text = strings.Join(r.chartValues, ", ")
	if slices.ContainsFunc(res.Columns, func(c Column) bool { return c.Type == TypeMoney }) {
		p.Y.Label.Text = "amount (minor units)"
	}
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top = true

	value := func(row []any, j int) float64 {
		switch v := row[j].(type) {
		case int64:
			return float64(v)
		case float64:
			return v
		}
		return 0
	}
	width := vg.Length(16) * vg.Centimeter
	if line {
		for k, j := range valueIdx {
			xys := make(plotter.XYs, len(rows))
			for i, row := range rows {
				xys[i].X, xys[i].Y = float64(i), value(row, j)
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, 0, fmt.Errorf("chart line: %w", err)
			}
			l.Color = plotutil.Color(k)
			l.Width = vg.Points(1.5)
			p.Add(l)
			p.Legend.Add(res.Columns[j].Name, l)
		}
		// At most about 8 tick labels, slanted: every nth period is named.
		step := (len(labels) + 7) / 8
		ticks := make([]plot.Tick, 0, len(labels))
		for i, l := range labels {
			t := plot.Tick{Value: float64(i)}
			if step <= 1 || i%step == 0 {
				t.Label = l
			}
			ticks = append(ticks, t)
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Tick.Label.Rotation = 0.6
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
		p.X.Label.Text = res.Columns[0].Name
		if len(rows) > 0 {
			p.X.Min, p.X.Max = 0, float64(len(rows)-1)
		}
	} else {
		n := len(valueIdx)
		width = vg.Length(max(16, min(60, 1.2*float64(len(rows)*max(1, n))))) * vg.Centimeter
		// Groups fill about 70% of the plot's width; bars at most 24pt.
		bw := vg.Length(min(24, max(2, 0.7*float64(width-2*vg.Centimeter)/float64(max(1, len(rows)*n)))))
		for k, j := range valueIdx {
			vs := make(plotter.Values, len(rows))
			for i, row := range rows {
				vs[i] = value(row, j)
			}
			if len(vs) == 0 {
				continue
			}
			b, err := plotter.NewBarChart(vs, bw)
			if err != nil {
				return nil, 0, fmt.Errorf("chart bars: %w", err)
			}
			b.Color = plotutil.Color(k)
			b.LineStyle.Width = 0
			b.Offset = bw * vg.Length(2*k-n+1) / 2
			p.Add(b)
			p.Legend.Add(res.Columns[j].Name, b)
		}
		if len(labels) > 0 {
			p.NominalX(labels...)
			p.X.Min, p.X.Max = -0.5, float64(len(labels))-0.5
		}
		if len(labels) > 8 {
			p.X.Tick.Label.Rotation = 0.8
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
		}
	}
	// Headroom above the tallest value for the legend.
	top := 0.0
	for _, row := range rows {
		for _, j := range valueIdx {
			top = max(top, value(row, j))
		}
	}
	p.Y.Max = max(1, top*1.25)
	return p, width, nil
}
