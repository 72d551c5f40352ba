package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
)

// writesChart draws -mode writes results against list length: one line
// per server and kind of write (random moves, and creates of the
// create-only mix), from the JSON
// files of -compare, each NAME=FILE, written by this tool's -json or by
// bench/pocketbase's writes -json.
func writesChart(compare, svgPath string) error {
	if svgPath == "" {
		return fmt.Errorf("-mode writes-chart needs -svg")
	}
	c := &Chart{
		Title:  "Writes against list length (50 clients, one host)",
		XLabel: "tasks in the list (log10: 1 = 10, 5 = 100,000)",
		YLabel: "requests per second",
	}
	for _, entry := range splitList(compare) {
		name, path, ok := strings.Cut(entry, "=")
		if !ok {
			return fmt.Errorf("-compare: %q is not NAME=FILE", entry)
		}
		points, err := readWritePoints(path)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for _, kind := range []string{"move-random", "create"} {
			s := Series{Name: name + " " + map[string]string{"move-random": "moves", "create": "creates"}[kind], Dashed: kind == "create"}
			for _, p := range points {
				if p.kind == kind {
					s.Points = append(s.Points, Point{X: math.Log10(float64(p.length)), Y: p.perSecond})
				}
			}
			if len(s.Points) > 0 {
				c.Series = append(c.Series, s)
			}
		}
	}
	if len(c.Series) == 0 {
		return fmt.Errorf("-compare: no results to draw")
	}
	return writeChart(svgPath, c)
}

type writePoint struct {
	length    int
	kind      string // move-random, or create (the create-only mix)
	perSecond float64
}

// readWritePoints reads the random moves and creates of a results file.
func readWritePoints(path string) ([]writePoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Writes  []WriteResult `json:"writes"`
		Results []struct {
			Length    int     `json:"length"`
			Mix       string  `json:"mix"`
			Kind      string  `json:"kind"`
			PerSecond float64 `json:"perSecond"`
		} `json:"results"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var out []writePoint
	for _, w := range doc.Writes {
		switch {
		case w.Mix == "move-random":
			out = append(out, writePoint{w.ListLength, "move-random", w.PerSecond})
		case w.Mix == "create-only":
			out = append(out, writePoint{w.ListLength, "create", w.PerSecond})
		}
	}
	for _, r := range doc.Results {
		switch {
		case r.Mix == "move-random":
			out = append(out, writePoint{r.Length, "move-random", r.PerSecond})
		case r.Mix == "create-only":
			out = append(out, writePoint{r.Length, "create", r.PerSecond})
		}
	}
	return out, nil
}
