package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// Names are what a page shows instead of the identifiers in entries:
// people's display names by username, incident numbers by incident id,
// and user accounts by user id.
type Names struct {
	People    map[string]string // username → display name
	Incidents map[string]string // incident id → number
	Accounts  map[string]string // user id → username
}

// Names looks up the names of the people and the incident numbers that
// entries name by identifier.
func (r *Reader) Names(ctx context.Context, entries []Entry) (Names, error) {
	n := Names{People: map[string]string{}, Incidents: map[string]string{}, Accounts: map[string]string{}}
	if _, err := authz.Check(ctx, authz.AuditRead); err != nil {
		return n, err
	}
	var usernames, incidents, accounts []string
	for _, e := range entries {
		if name, ok := strings.CutPrefix(e.Actor, string(authz.KindUser)+":"); ok {
			usernames = append(usernames, name)
		}
		switch e.ObjectType {
		case "incident":
			incidents = append(incidents, e.ObjectID)
		case "user":
			accounts = append(accounts, e.ObjectID)
		}
	}
	if err := lookup(ctx, r.db.R, "SELECT id, username FROM users WHERE id IN", accounts, n.Accounts); err != nil {
		return n, err
	}
	for _, u := range n.Accounts {
		usernames = append(usernames, u)
	}
	if err := lookup(ctx, r.db.R, "SELECT username, display_name FROM users WHERE username IN", usernames, n.People); err != nil {
		return n, err
	}
	return n, lookup(ctx, r.db.R, "SELECT id, number FROM incidents WHERE id IN", incidents, n.Incidents)
}

// lookup runs query with the distinct keys as its IN list, in chunks, and
// puts the first column's values to the second's in into.
func lookup(ctx context.Context, q db.Querier, query string, keys []string, into map[string]string) error {
	seen := map[string]bool{}
	var distinct []any
	for _, k := range keys {
		if !seen[k] && k != "" {
			seen[k] = true
			distinct = append(distinct, k)
		}
	}
	for len(distinct) > 0 {
		chunk := distinct[:min(len(distinct), 200)]
		distinct = distinct[len(chunk):]
		marks := make([]string, len(chunk))
		for i := range chunk {
			marks[i] = "$" + strconv.Itoa(i+1)
		}
		rows, err := q.QueryContext(ctx, query+" ("+strings.Join(marks, ", ")+")", chunk...)
		if err != nil {
			return fmt.Errorf("audit names: %w", err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return fmt.Errorf("audit names: %w", err)
			}
			into[k] = v
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("audit names: %w", err)
		}
	}
	return nil
}

// Person is someone (or something) that acts, as a filter offers them.
type Person struct {
	Actor string // as the trail names it, e.g. "user:alice"
	Kind  authz.Kind
	Name  string // display name, or the token's name
	Login string // username, for people
}

// People lists the user accounts and API tokens that may appear as
// actors, people first by display name, then tokens by name.
func (r *Reader) People(ctx context.Context) ([]Person, error) {
	if _, err := authz.Check(ctx, authz.AuditRead); err != nil {
		return nil, err
	}
	var out []Person
	rows, err := r.db.R.QueryContext(ctx, `SELECT username, display_name FROM users ORDER BY display_name, username`)
	if err != nil {
		return nil, fmt.Errorf("audit people: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Person
		if err := rows.Scan(&p.Login, &p.Name); err != nil {
			return nil, fmt.Errorf("audit people: %w", err)
		}
		p.Kind, p.Actor = authz.KindUser, string(authz.KindUser)+":"+p.Login
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit people: %w", err)
	}
	tokens, err := r.db.R.QueryContext(ctx, `SELECT name FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("audit people: %w", err)
	}
	defer tokens.Close()
	for tokens.Next() {
		p := Person{Kind: authz.KindToken}
		if err := tokens.Scan(&p.Name); err != nil {
			return nil, fmt.Errorf("audit people: %w", err)
		}
		p.Actor = string(authz.KindToken) + ":" + p.Name
		out = append(out, p)
	}
	return out, tokens.Err()
}
