package taskboard

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
)

// UserCreate describes a new user. An empty ID means a new unique one; a
// program that has users of its own passes their IDs, so that the same
// person is the same user here.
type UserCreate struct {
	ID    string
	Name  string
	Email string
}

// CreateUser creates a user. It returns ErrInvalid for a bad ID, name or
// email, and ErrConflict when the ID or the email is taken.
func (b *Board) CreateUser(ctx context.Context, in UserCreate) (*User, error) {
	var v validator
	if in.ID != "" {
		v.length("id", in.ID, 1, MaxNameLength)
	}
	v.length("name", in.Name, 1, MaxNameLength)
	v.email("email", in.Email)
	if err := v.err(); err != nil {
		return nil, err
	}
	u := &User{ID: in.ID, Name: in.Name, Email: in.Email, CreatedAt: now()}
	if u.ID == "" {
		u.ID = newID()
	}
	err := b.plainTx(ctx, func(tx bun.Tx) error {
		var taken []User
		if err := tx.NewSelect().Model(&taken).Where("email = ? OR id = ?", u.Email, u.ID).Limit(1).Scan(ctx); err != nil {
			return err
		}
		if len(taken) > 0 {
			if taken[0].ID == u.ID {
				return fmt.Errorf("%w: a user with ID %s exists", ErrConflict, u.ID)
			}
			return fmt.Errorf("%w: a user with email %s exists", ErrConflict, u.Email)
		}
		_, err := tx.NewInsert().Model(u).Exec(ctx)
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: a user with ID %s or email %s exists", ErrConflict, u.ID, u.Email)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taskboard: create user: %w", err)
	}
	return u, nil
}

// ProvisionUser returns the stored user with u.ID, creating it from u's
// ID, name and email when there is none: the way to mirror the users of a
// program that authenticates them itself. An existing user is returned as
// it is stored, whatever u's name and email. It returns ErrInvalid for a
// user that cannot be created as given, and ErrConflict when another user
// has u's email.
func (b *Board) ProvisionUser(ctx context.Context, u User) (*User, error) {
	if u.ID == "" {
		return nil, invalid("id", "is required")
	}
	if got, err := b.User(ctx, u.ID); err == nil || !errors.Is(err, ErrNotFound) {
		return got, err
	}
	created, err := b.CreateUser(ctx, UserCreate{ID: u.ID, Name: u.Name, Email: u.Email})
	if errors.Is(err, ErrConflict) {
		// Created meanwhile by a concurrent call, or the email is taken.
		if got, gerr := b.User(ctx, u.ID); gerr == nil {
			return got, nil
		}
	}
	return created, err
}

// requireUser returns notFound("User") unless the user id exists.
func requireUser(ctx context.Context, db bun.IDB, id string) error {
	if hasNUL(id) {
		return notFound("User")
	}
	ok, err := db.NewSelect().Model((*User)(nil)).Where("id = ?", id).Exists(ctx)
	if err == nil && !ok {
		return notFound("User")
	}
	return err
}

// User returns a user by ID, or ErrNotFound.
func (b *Board) User(ctx context.Context, id string) (*User, error) {
	if hasNUL(id) {
		return nil, fmt.Errorf("taskboard: user %q: %w", id, notFound("User"))
	}
	u := new(User)
	err := b.db.NewSelect().Model(u).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("taskboard: user %s: %w", id, notFound("User"))
	}
	if err != nil {
		return nil, fmt.Errorf("taskboard: user %s: %w", id, wrapDBError(err))
	}
	return u, nil
}

// UserByEmail returns the user with an email address, compared exactly as
// stored apart from surrounding spaces, or ErrNotFound.
func (b *Board) UserByEmail(ctx context.Context, email string) (*User, error) {
	email = strings.TrimSpace(email)
	if hasNUL(email) || email == "" {
		return nil, fmt.Errorf("taskboard: user with email %q: %w", email, notFound("User"))
	}
	u := new(User)
	err := b.db.NewSelect().Model(u).Where("email = ?", email).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("taskboard: user with email %s: %w", email, notFound("User"))
	}
	if err != nil {
		return nil, fmt.Errorf("taskboard: user with email %s: %w", email, wrapDBError(err))
	}
	return u, nil
}

// HasUsers reports whether the database holds any user.
func (b *Board) HasUsers(ctx context.Context) (bool, error) {
	ok, err := b.db.NewSelect().Model((*User)(nil)).Exists(ctx)
	return ok, wrapDBError(err)
}
