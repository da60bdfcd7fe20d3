package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// Filter selects audit entries; empty fields do not filter.
type Filter struct {
	Actor      string // exact, e.g. "user:alice"
	ObjectType string
	ObjectID   string
	Action     string // exact, or a prefix ending in "." (e.g. "user.")
	From, To   *time.Time
	BeforeSeq  int64 // entries with a smaller sequence number (paging back in time)
	Limit      int
}

// MaxList caps one page of List.
const MaxList = 500

// List returns entries matching f, newest first. Reading the trail is
// itself not audited: it holds no PHI (only digests of changes).
func List(ctx context.Context, q db.Querier, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(f.Actor))
	}
	if f.ObjectType != "" {
		where = append(where, "object_type = "+arg(f.ObjectType))
	}
	if f.ObjectID != "" {
		where = append(where, "object_id = "+arg(f.ObjectID))
	}
	if prefix, ok := strings.CutSuffix(f.Action, "."); ok {
		where = append(where, "substr(action, 1, "+arg(len(prefix)+1)+") = "+arg(prefix+"."))
	} else if f.Action != "" {
		where = append(where, "action = "+arg(f.Action))
	}
	if f.From != nil {
		where = append(where, "at >= "+arg(f.From.UTC()))
	}
	if f.To != nil {
		where = append(where, "at < "+arg(f.To.UTC()))
	}
	if f.BeforeSeq > 0 {
		where = append(where, "seq < "+arg(f.BeforeSeq))
	}
	if f.Limit <= 0 || f.Limit > MaxList {
		f.Limit = 100
	}
	query := `SELECT seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq DESC LIMIT " + arg(f.Limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP,
			&e.Digest, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("audit list: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
