package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"strings"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
)

// runServe runs PocketBase embedded as a library.
// args are passed through to PocketBase's own CLI (e.g. "--http 127.0.0.1:8090").
// If no --dir is given a fresh temp data dir is created.
func runServe(args []string) {
	hasDir := false
	for _, a := range args {
		if a == "--dir" || strings.HasPrefix(a, "--dir=") {
			hasDir = true
		}
	}
	if !hasDir {
		dir, err := os.MkdirTemp("", "pbbench-data-")
		if err != nil {
			log.Fatal(err)
		}
		args = append(args, "--dir", dir)
		fmt.Fprintf(os.Stderr, "pbbench: data dir %s\n", dir)
	}
	// PocketBase parses os.Args itself (cobra): make it look like "prog serve <args>".
	os.Args = append([]string{os.Args[0], "serve"}, args...)

	app := pocketbase.New()

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		// don't try to open a browser with the superuser installer link
		se.InstallerFunc = nil

		if err := ensureTasks(se.App); err != nil {
			return err
		}

		// read-only diagnostics endpoint (does NOT force a GC); only called
		// by the load tool outside of the latency measurement window.
		se.Router.GET("/bench/memstats", func(e *core.RequestEvent) error {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return e.JSON(http.StatusOK, map[string]any{
				"numGC":        ms.NumGC,
				"heapAlloc":    ms.HeapAlloc,
				"heapInuse":    ms.HeapInuse,
				"heapSys":      ms.HeapSys,
				"stackInuse":   ms.StackInuse,
				"sys":          ms.Sys,
				"numGoroutine": runtime.NumGoroutine(),
				"pid":          os.Getpid(),
			})
		})

		return se.Next()
	})

	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

// ensureTasks makes the "tasks" collection: public to list, view, create,
// update and delete, with the fields load and writes set, and 20 records.
// A collection from an older data dir gains what it lacks.
func ensureTasks(app core.App) error {
	col, err := app.FindCollectionByNameOrId("tasks")
	if err != nil {
		col = core.NewBaseCollection("tasks")
		col.Fields.Add(
			&core.TextField{Name: "title", Max: 200},
			&core.NumberField{Name: "pos"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
	}
	// position and list are what the writes subcommand moves.
	if col.Fields.GetByName("position") == nil {
		col.Fields.Add(&core.NumberField{Name: "position"})
	}
	if col.Fields.GetByName("list") == nil {
		col.Fields.Add(&core.TextField{Name: "list", Max: 20})
	}
	public := ""
	col.ListRule = &public
	col.ViewRule = &public
	col.CreateRule = &public
	col.UpdateRule = &public
	col.DeleteRule = &public
	if err := app.Save(col); err != nil {
		return fmt.Errorf("save tasks collection: %w", err)
	}

	n, err := app.CountRecords(col)
	if err != nil {
		return err
	}
	for i := int(n); i < 20; i++ {
		r := core.NewRecord(col)
		r.Set("title", fmt.Sprintf("task %d", i))
		r.Set("pos", i)
		r.Set("position", i)
		r.Set("list", "a")
		if err := app.Save(r); err != nil {
			return fmt.Errorf("create record: %w", err)
		}
	}
	return nil
}
