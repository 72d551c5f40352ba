// Command taskboard serves the taskboard HTTP API and manages its users and
// tokens.
//
// Usage:
//
//	taskboard [serve] [flags]          serve the API (default: 127.0.0.1:3000, ./taskboard.db)
//	taskboard token create --user ID   print a new bearer token for a user
//	taskboard token revoke PREFIX|ID   revoke a token and the sessions made from it
//	taskboard user create --name N --email E   print the new user's id
//	taskboard member set --board ID --user ID --role ROLE   give a user a role on a board
//	taskboard export --board ID [--out FILE]   write a board's export document
//	taskboard import --user ID FILE    make a new board from an export or a Trello board export
//	taskboard backup --out FILE        write a consistent copy of a SQLite database
//	taskboard health [--url URL]       check a server's /ready (for container health checks)
//
// Every flag can also be set through an environment variable: --public-url
// is TASKBOARD_PUBLIC_URL, --db is TASKBOARD_DB, and so on. Flags given on
// the command line win. Run a command with -h for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run executes the command line args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
		if cmd == "token" || cmd == "user" || cmd == "member" {
			if len(args) == 0 || strings.HasPrefix(args[0], "-") {
				return fmt.Errorf("usage: taskboard %s create|revoke|set ... (see taskboard -h)", cmd)
			}
			cmd, args = cmd+" "+args[0], args[1:]
		}
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stdout, stderr)
	case "token create":
		return tokenCreate(ctx, args, stdout, stderr)
	case "token revoke":
		return tokenRevoke(ctx, args, stdout, stderr)
	case "user create":
		return userCreate(ctx, args, stdout, stderr)
	case "member set":
		return memberSet(ctx, args, stdout, stderr)
	case "export":
		return exportBoard(ctx, args, stdout, stderr)
	case "import":
		return importBoard(ctx, args, stdout, stderr)
	case "backup":
		return backup(ctx, args, stdout, stderr)
	case "health":
		return health(ctx, args, stdout, stderr)
	case "help":
		usage(stderr)
		return nil
	default:
		usage(stderr)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `taskboard: real-time collaborative task boards.

Usage:
  taskboard [serve] [flags]                      serve the API (default 127.0.0.1:3000 with ./taskboard.db)
  taskboard token create --db DSN --user ID      print a new bearer token for a user
  taskboard token revoke --db DSN PREFIX_OR_ID   revoke a token and the sessions made from it
  taskboard user create --db DSN --name N --email E   create a user and print its id
  taskboard member set --db DSN --board ID --user ID --role owner|editor|viewer
                                                 make a user a member of a board with a role,
                                                 or change their role (an operator's way back
                                                 into a board whose owners are gone)
  taskboard export --db DSN --board ID [--out FILE]   write a board's export document (JSON)
  taskboard import --db DSN --user ID FILE       make a new board of the user's from an export
                                                 or a Trello board export; print its id
  taskboard backup --db DSN --out FILE           write a consistent copy of a SQLite database,
                                                 also while a server runs (PostgreSQL: pg_dump)
  taskboard health [--url URL]                   exit 0 when the server's /ready answers 200

Every flag is also read from TASKBOARD_<FLAG> (e.g. TASKBOARD_DB, TASKBOARD_ADDR).
Run 'taskboard serve -h' (or any command with -h) for its flags.
`)
}

// newFlagSet returns a flag set whose usage names the command.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("taskboard "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of taskboard %s:\n", name)
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "\nEvery flag is also read from the environment as TASKBOARD_<NAME> (dashes become underscores).")
	}
	return fs
}

// parse applies TASKBOARD_* environment variables, then the command line.
func parse(fs *flag.FlagSet, args []string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "TASKBOARD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

// dbFlag defines the --db flag.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "taskboard.db", "database: a SQLite file path or a postgres:// URL")
}
