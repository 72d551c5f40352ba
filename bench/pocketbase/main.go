// Command pbbench measures PocketBase's realtime (SSE) delivery and its
// writes under the load taskboard-bench puts on taskboard, so that the two
// can be compared on one host. load: N subscribers of a collection, one
// writer updating its records at a fixed rate, and for every delivery the
// time from the write to its receipt, with lost, duplicated and reordered
// events counted. writes: closed-loop clients creating, deleting and
// moving records at several collection lengths.
//
//	pbbench serve --http 127.0.0.1:8090 --dir DIR   # PocketBase with a "tasks" collection
//	pbbench load -n 1000 -rate 20 -dur 60s          # subscribers and writer
//	pbbench load -n 5000 -idle 150s                 # idle memory per connection
//	pbbench writes -clients 50 -dur 10s             # creates, deletes and moves
//
// It is a module of its own so that taskboard does not depend on PocketBase.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pbbench serve --http 127.0.0.1:8090 [--dir DIR] | pbbench load [flags] | pbbench writes [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		runServe(os.Args[2:])
	case "load":
		runLoad(os.Args[2:])
	case "writes":
		runWrites(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "unknown subcommand", os.Args[1])
		os.Exit(2)
	}
}
