package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Chart is a line chart written as a standalone SVG document.
type Chart struct {
	Title  string
	XLabel string
	YLabel string
	Series []Series
	// Limit, when positive, is drawn as a horizontal dashed line labelled
	// LimitLabel (a target such as 100 ms).
	Limit      float64
	LimitLabel string
}

// Series is one line of a Chart.
type Series struct {
	Name   string
	Color  string // any SVG color; empty picks one from the palette
	Dashed bool
	Points []Point
}

// Point is one (x, y) value of a Series.
type Point struct{ X, Y float64 }

// palette holds the colors of series without one.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"}

// Chart geometry, in SVG user units.
const (
	chartW, chartH                     = 800, 480
	padLeft, padRight, padTop, padDown = 80, 190, 50, 60
)

// niceStep returns a round step (1, 2 or 5 times a power of ten) that cuts
// span into about n intervals.
func niceStep(span float64, n int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// formatTick formats an axis value without needless decimals.
func formatTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000 && math.Mod(v, 1000) == 0:
		return fmt.Sprintf("%gk", v/1000)
	case math.Abs(v) >= 1:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// xmlEscape escapes text for an SVG text node or attribute.
func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// WriteSVG writes c as an SVG document. Both axes start at zero and end at
// a round value above the largest point (and the limit line).
func (c *Chart) WriteSVG(w io.Writer) error {
	maxX, maxY := 0.0, c.Limit
	for _, s := range c.Series {
		for _, p := range s.Points {
			maxX, maxY = math.Max(maxX, p.X), math.Max(maxY, p.Y)
		}
	}
	xStep, yStep := niceStep(maxX, 5), niceStep(maxY, 5)
	xMax := math.Max(xStep, math.Ceil(maxX/xStep)*xStep)
	yMax := math.Max(yStep, math.Ceil(maxY*1.05/yStep)*yStep)
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padDown)
	px := func(x float64) float64 { return padLeft + x/xMax*plotW }
	py := func(y float64) float64 { return padTop + plotH - y/yMax*plotH }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>`+"\n", padLeft, xmlEscape(c.Title))
	// Grid and ticks.
	for y := 0.0; y <= yMax+yStep/1e6; y += yStep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", px(0), py(y), px(xMax), py(y))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", px(0)-6, py(y), formatTick(y))
	}
	for x := 0.0; x <= xMax+xStep/1e6; x += xStep {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e0e0e0"/>`+"\n", px(x), py(0), px(x), py(yMax))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), py(0)+18, formatTick(x))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`+"\n", padLeft, padTop, plotW, plotH)
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(xMax/2), chartH-15, xmlEscape(c.XLabel))
	fmt.Fprintf(&b, `<text x="20" y="%.1f" text-anchor="middle" transform="rotate(-90 20 %.1f)">%s</text>`+"\n", py(yMax/2), py(yMax/2), xmlEscape(c.YLabel))
	if c.Limit > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-dasharray="2 4"/>`+"\n", px(0), py(c.Limit), px(xMax), py(c.Limit))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", px(xMax)-4, py(c.Limit)-4, xmlEscape(c.LimitLabel))
	}
	// Series and legend.
	for i, s := range c.Series {
		color := s.Color
		if color == "" {
			color = palette[i%len(palette)]
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		pts := make([]string, len(s.Points))
		for j, p := range s.Points {
			pts[j] = fmt.Sprintf("%.1f,%.1f", px(p.X), py(p.Y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"><title>%s</title></polyline>`+"\n", xmlEscape(color), dash, strings.Join(pts, " "), xmlEscape(s.Name))
		for _, p := range s.Points {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s, %s</title></circle>`+"\n", px(p.X), py(p.Y), xmlEscape(color), xmlEscape(s.Name), formatTick(p.X), formatTick(p.Y))
		}
		ly := float64(padTop + 10 + 20*i)
		lx := float64(chartW - padRight + 15)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", lx, ly, lx+28, ly, xmlEscape(color), dash)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`+"\n", lx+34, ly, xmlEscape(s.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
