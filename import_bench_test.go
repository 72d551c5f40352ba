package taskboard_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/internal/dbtest"
)

// trelloDoc returns a Trello board export of cards cards spread over
// lists lists, with names and descriptions of realistic length.
func trelloDoc(lists, cards int) []byte {
	type list struct {
		ID     string  `json:"id"`
		Name   string  `json:"name"`
		Closed bool    `json:"closed"`
		Pos    float64 `json:"pos"`
	}
	type card struct {
		ID     string  `json:"id"`
		Name   string  `json:"name"`
		Desc   string  `json:"desc"`
		IDList string  `json:"idList"`
		Closed bool    `json:"closed"`
		Pos    float64 `json:"pos"`
	}
	doc := struct {
		Name  string `json:"name"`
		Lists []list `json:"lists"`
		Cards []card `json:"cards"`
	}{Name: "Big board"}
	for i := range lists {
		doc.Lists = append(doc.Lists, list{ID: fmt.Sprintf("%024x", i), Name: fmt.Sprintf("List %d", i), Pos: float64(65535 * (i + 1))})
	}
	for i := range cards {
		doc.Cards = append(doc.Cards, card{ID: fmt.Sprintf("c%023x", i), Name: fmt.Sprintf("Card %d: something to do about the thing", i),
			Desc: "A description of a few sentences, as cards have them. It says what to do and why.", IDList: doc.Lists[i%lists].ID,
			Pos: float64(16384 * (cards - i))})
	}
	data, _ := json.Marshal(doc)
	return data
}

// BenchmarkImportStall imports a 20,000-card Trello board on SQLite while
// another board's member writes to it without pause, and reports the
// longest and the 99th-percentile latency of those writes during the
// import (max-write-ms, p99-write-ms) and how long the import took
// (import-s).
//
// The "one-transaction" case writes the whole board in one transaction,
// for comparison.
//
//	go test -run '^$' -bench ImportStall -benchtime 1x .
func BenchmarkImportStall(b *testing.B) {
	data := trelloDoc(10, 20000)
	b.Run("chunked", func(b *testing.B) { benchImportStall(b, data) })
	b.Run("one-transaction", func(b *testing.B) {
		defer taskboard.SetImportChunk(1 << 30)()
		benchImportStall(b, data)
	})
}

func benchImportStall(b *testing.B, data []byte) {
	for range b.N {
		b.StopTimer()
		f := newFixture(b, dbtest.SQLite(b), nil)
		doc, err := taskboard.ParseImport(data)
		if err != nil {
			b.Fatal(err)
		}
		task := f.newTask(b, listTodo, "written during the import")
		stop := make(chan struct{})
		latencies := make(chan []time.Duration)
		go func() {
			var ls []time.Duration
			for i := 0; ; i++ {
				select {
				case <-stop:
					latencies <- ls
					return
				default:
				}
				start := time.Now()
				title := fmt.Sprintf("written during the import %d", i)
				if _, err := f.b.UpdateTask(f.ctx, taskboard.Actor{UserID: alice}, task.ID, taskboard.TaskUpdate{Title: &title}); err != nil {
					b.Error(err)
				}
				ls = append(ls, time.Since(start))
			}
		}()
		b.StartTimer()
		start := time.Now()
		snap, err := f.b.Import(f.ctx, taskboard.Actor{UserID: f.carol}, doc)
		took := time.Since(start)
		b.StopTimer()
		close(stop)
		ls := <-latencies
		if err != nil || len(snap.Tasks) != 20000 {
			b.Fatalf("Import: %v", err)
		}
		slices.Sort(ls)
		b.ReportMetric(float64(ls[len(ls)-1].Microseconds())/1000, "max-write-ms")
		b.ReportMetric(float64(ls[len(ls)*99/100].Microseconds())/1000, "p99-write-ms")
		b.ReportMetric(float64(len(ls)), "writes")
		b.ReportMetric(took.Seconds(), "import-s")
	}
}
