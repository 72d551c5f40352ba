package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestChartIsWellFormedSVG(t *testing.T) {
	c := &Chart{
		Title: "Latency <vs> subscribers & more", XLabel: "subscribers", YLabel: "ms", Limit: 100, LimitLabel: "100 ms",
		Series: []Series{
			{Name: "sse p99", Points: []Point{{1000, 12}, {5000, 40}, {10000, 95}}},
			{Name: "sse p50", Dashed: true, Points: []Point{{1000, 3}, {5000, 9}, {10000, 30}}},
			{Name: "empty"},
		},
	}
	var buf bytes.Buffer
	if err := c.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	var polylines, circles int
	var texts []string
	var root string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = el.Name.Local
			}
			switch el.Name.Local {
			case "polyline":
				polylines++
				for _, a := range el.Attr {
					if a.Name.Local == "points" && len(strings.Fields(a.Value)) > 3 {
						t.Errorf("polyline has %d points, want at most 3", len(strings.Fields(a.Value)))
					}
				}
			case "circle":
				circles++
			}
		case xml.CharData:
			if s := strings.TrimSpace(string(el)); s != "" {
				texts = append(texts, s)
			}
		}
	}
	if root != "svg" {
		t.Errorf("root element = %q, want svg", root)
	}
	if polylines != 3 || circles != 6 {
		t.Errorf("got %d polylines and %d circles, want 3 and 6", polylines, circles)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"Latency <vs> subscribers & more", "100 ms", "sse p99", "10k"} {
		if !strings.Contains(all, want) {
			t.Errorf("chart text %q lacks %q", all, want)
		}
	}
}

func TestNiceStep(t *testing.T) {
	for _, c := range []struct{ span, want float64 }{{10000, 2000}, {95, 20}, {1, 0.2}, {0, 1}, {7, 2}} {
		if got := niceStep(c.span, 5); got != c.want {
			t.Errorf("niceStep(%v, 5) = %v, want %v", c.span, got, c.want)
		}
	}
}
