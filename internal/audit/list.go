package audit

import (
	"context"
	"database/sql"
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
	AfterSeq   int64 // entries with a larger sequence number (reading forwards)
	Limit      int
}

// MaxList caps one page of List.
const MaxList = 500

// DefaultList is the size of a page of List when Filter.Limit is 0.
const DefaultList = 100

// entryColumns are the columns scanEntry reads, in its order.
const entryColumns = `seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash`

// where turns f into a WHERE clause and its arguments. Only entries the
// chain has numbered are read (seq is not null).
func (f Filter) where() (string, []any) {
	where := []string{"seq IS NOT NULL"}
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
	if f.AfterSeq > 0 {
		where = append(where, "seq > "+arg(f.AfterSeq))
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// List returns entries matching f, newest first, at most f.Limit of them
// (DefaultList when 0, never more than MaxList).
func List(ctx context.Context, q db.Querier, f Filter) ([]Entry, error) {
	if f.Limit <= 0 || f.Limit > MaxList {
		f.Limit = DefaultList
	}
	return query(ctx, q, f, "DESC")
}

// ListForward returns entries matching f, oldest first, at most f.Limit
// of them (DefaultList when 0, never more than MaxList): with AfterSeq, the
// entries that follow a cursor.
func ListForward(ctx context.Context, q db.Querier, f Filter) ([]Entry, error) {
	if f.Limit <= 0 || f.Limit > MaxList {
		f.Limit = DefaultList
	}
	return query(ctx, q, f, "ASC")
}

func query(ctx context.Context, q db.Querier, f Filter, order string) ([]Entry, error) {
	where, args := f.where()
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, `SELECT `+entryColumns+` FROM audit_log`+where+
		` ORDER BY seq `+order+` LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("audit list: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanEntry(rows *sql.Rows) (Entry, error) {
	var e Entry
	err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP,
		&e.Digest, &e.PrevHash, &e.Hash)
	e.At = e.At.UTC()
	return e, err
}

// eachChunk is how many entries Each reads per query.
const eachChunk = MaxList

// Each calls fn with every entry matching f (its Limit aside),
// oldest first. It reads in chunks by sequence number, so no query stays
// open while fn writes to a slow reader; entries appended meanwhile are
// included until the last chunk comes back short.
func Each(ctx context.Context, q db.Querier, f Filter, fn func(Entry) error) error {
	f.Limit = eachChunk
	for {
		page, err := ListForward(ctx, q, f)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < eachChunk {
			return nil
		}
		f.AfterSeq = page[len(page)-1].Seq
	}
}
