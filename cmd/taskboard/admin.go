package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/taskboard/taskboard"
	"github.com/taskboard/taskboard/auth"
)

// openStore opens the database for a one-off command.
func openStore(ctx context.Context, dsn string) (*taskboard.Board, error) {
	return taskboard.Open(ctx, dsn, &taskboard.Options{MaintenanceInterval: -1})
}

// tokenCreate prints a new token for a user, alone on one line.
func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", stderr)
	db := dbFlag(fs)
	user := fs.String("user", "", "id of the user the token belongs to (required)")
	name := fs.String("name", "", "a name telling the token apart")
	scope := fs.String("scope", auth.ScopeWrite, "what the token may do: read (GET routes and streams) or write (reads and writes)")
	expires := fs.Duration("expires", 0, "how long the token lasts, such as 720h (0: no expiry)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return fmt.Errorf("token create: --user is required")
	}
	if *scope != auth.ScopeRead && *scope != auth.ScopeWrite {
		return fmt.Errorf("token create: --scope must be read or write, not %q", *scope)
	}
	if *expires < 0 {
		return fmt.Errorf("token create: --expires must not be negative")
	}
	spec := auth.TokenSpec{Name: *name, Scope: *scope}
	if *expires > 0 {
		exp := time.Now().Add(*expires)
		spec.ExpiresAt = &exp
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	_, secret, err := auth.New(store, nil).IssueToken(ctx, *user, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

// tokenRevoke revokes a token by its id or the first characters of its
// secret.
func tokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token revoke", stderr)
	db := dbFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("token revoke: give one token prefix or id")
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	tok, err := auth.New(store, nil).RevokeToken(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked token %s (%s…) of user %s\n", tok.ID, tok.Prefix, tok.UserID)
	return nil
}

// userCreate creates a user and prints its id.
func userCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("user create", stderr)
	db := dbFlag(fs)
	name := fs.String("name", "", "the user's name (required)")
	email := fs.String("email", "", "the user's email address (required)")
	id := fs.String("id", "", "the user's ID (default: a new unique one)")
	if err := parse(fs, args); err != nil {
		return err
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := store.CreateUser(ctx, taskboard.UserCreate{ID: *id, Name: *name, Email: *email})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, u.ID)
	return nil
}

// memberSet makes a user a member of a board with a role, or gives a member
// that role, without the server: the operator's way back into a board
// whose owners are gone. It changes the database only; the servers deliver
// the logged event to the board's streams as they would any other write.
func memberSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("member set", stderr)
	db := dbFlag(fs)
	board := fs.String("board", "", "id of the board (required)")
	user := fs.String("user", "", "id of the user (required)")
	role := fs.String("role", "", "the role to give: owner, editor or viewer (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *board == "" || *user == "" || *role == "" {
		return fmt.Errorf("member set: --board, --user and --role are required")
	}
	if !taskboard.Role(*role).Valid() {
		return fmt.Errorf("member set: --role must be owner, editor or viewer, not %q", *role)
	}
	store, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	m, err := store.SetMemberRole(ctx, *board, *user, taskboard.Role(*role))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "user %s is %s of board %s\n", m.UserID, m.Role, m.BoardID)
	return nil
}
