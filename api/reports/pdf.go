package reports

import (
	"bytes"
	"fmt"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgpdf"
)

// PDF pages are A4 landscape: the chart (for reports that have one) on the
// first page, then the rows as a table with the header on every page.
const (
	pdfWidth    = 297 * vg.Millimeter
	pdfHeight   = 210 * vg.Millimeter
	pdfMargin   = 12 * vg.Millimeter
	pdfRowStep  = vg.Length(11) // points
	pdfFontSize = 8
)

// RowsPerPDFPage is how many table rows a PDF page holds.
var RowsPerPDFPage = func() int { n := (pdfHeight - 2*pdfMargin - 3*pdfRowStep) / pdfRowStep; return int(n) }()

// PDF renders a report's result as a printable PDF document.
func PDF(r *Report, res *Result) ([]byte, error) {
	c := vgpdf.New(pdfWidth, pdfHeight)
	if r.Chart != "" {
		p, _, err := chartPlot(r, res)
		if err != nil {
			return nil, err
		}
		p.Draw(draw.Crop(draw.New(c), pdfMargin, -pdfMargin, pdfMargin, -pdfMargin))
		c.NextPage()
	}
	face := font.DefaultCache.Lookup(font.Font{Typeface: plot.DefaultFont.Typeface, Variant: "Sans"}, pdfFontSize)
	// The header in a larger size of the same face (vgpdf registers the
	// regular faces of the plot fonts).
	bold := font.DefaultCache.Lookup(font.Font{Typeface: plot.DefaultFont.Typeface, Variant: "Sans"}, pdfFontSize+1)
	colW := (pdfWidth - 2*pdfMargin) / vg.Length(max(1, len(res.Columns)))
	fit := func(f font.Face, s string) string {
		for s != "" && f.Width(s) > colW-2 {
			rs := []rune(s)
			s = string(rs[:len(rs)-1])
			if f.Width(s+"…") <= colW-2 {
				return s + "…"
			}
		}
		return s
	}
	title := r.Title
	if from, ok := res.Params["from"].(string); ok {
		title += fmt.Sprintf(" (%s to %s)", from, res.Params["to"])
	}
	page := func(n int) vg.Length {
		y := pdfHeight - pdfMargin
		c.FillString(bold, vg.Point{X: pdfMargin, Y: y}, fit(bold, title)+fmt.Sprintf("   page %d", n))
		y -= 2 * pdfRowStep
		for i, col := range res.Columns {
			c.FillString(bold, vg.Point{X: pdfMargin + vg.Length(i)*colW, Y: y}, fit(bold, col.Name))
		}
		return y - pdfRowStep
	}
	n := 1
	y := page(n)
	for i, row := range res.Rows {
		if i > 0 && i%RowsPerPDFPage == 0 {
			c.NextPage()
			n++
			y = page(n)
		}
		for j := range res.Columns {
			cell := strings.ReplaceAll(csvCell(row[j]), "\n", " ")
			c.FillString(face, vg.Point{X: pdfMargin + vg.Length(j)*colW, Y: y}, fit(face, cell))
		}
		y -= pdfRowStep
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report pdf: %w", err)
	}
	return buf.Bytes(), nil
}
