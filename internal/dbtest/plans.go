package dbtest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// Statement is a hot query with arguments to run it with.
type Statement struct {
	Name string
	SQL  string
	Args []any
	// Index, if set, is the index SQLite's plan must search (PlansRead).
	Index string
}

// MaxWastedRows bounds the rows one node of a hot statement's plan may read
// and throw away (a filter's, an index recheck's or a join filter's
// rejects).
const MaxWastedRows = 100

// MaxSortedRows bounds the rows a hot statement's plan may sort: a page
// in an index's order is read in that order, not sorted whole.
const MaxSortedRows = 1000

// GenericPlansHold checks that statements keep fast plans on PostgreSQL
// when their plans rot the way pgx's cached statements do: on one
// connection with plan_cache_mode = force_generic_plan, each statement is
// prepared and run once while the tables are as d holds them now (empty,
// say), so its generic plan is made and cached; then grow fills the
// tables without ANALYZE, and each statement runs again (EXPLAIN ANALYZE,
// in a transaction rolled back) under that cached plan. The test fails if
// a plan reads one of tables by a sequential scan, a node of it reads
// more than MaxWastedRows rows that it throws away (a join's rejected
// pairs counted as well as a scan's rejected rows), or it sorts more than
// MaxSortedRows rows.
func GenericPlansHold(t *testing.T, d *db.DB, tables []string, grow func(), stmts []Statement) {
	t.Helper()
	ctx := context.Background()
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	run := func(i int, explain string) string {
		var out strings.Builder
		if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
		}()
		lits := make([]string, len(stmts[i].Args))
		for j, a := range stmts[i].Args {
			lits[j] = literal(a)
		}
		rows, err := conn.Query(ctx, explain+"EXECUTE hot_"+strconv.Itoa(i)+"("+strings.Join(lits, ", ")+")")
		if err != nil {
			t.Fatalf("%s: %v", stmts[i].Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			if explain == "" {
				continue
			}
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			out.WriteString(line)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", stmts[i].Name, err)
		}
		return out.String()
	}
	for i, s := range stmts {
		if _, err := conn.Exec(ctx, "PREPARE hot_"+strconv.Itoa(i)+" AS "+s.SQL); err != nil {
			t.Fatalf("prepare %s: %v", s.Name, err)
		}
		run(i, "")
	}
	grow()
	watched := map[string]bool{}
	for _, tb := range tables {
		watched[tb] = true
	}
	for i, s := range stmts {
		var plans []struct {
			Plan planNode `json:"Plan"`
		}
		raw := run(i, "EXPLAIN (ANALYZE, FORMAT JSON) ")
		if err := json.Unmarshal([]byte(raw), &plans); err != nil || len(plans) != 1 {
			t.Fatalf("%s: plan %q: %v", s.Name, raw, err)
		}
		if bad := plans[0].Plan.faults(watched); len(bad) > 0 {
			t.Errorf("%s: %s\nquery: %s\nplan: %s", s.Name, strings.Join(bad, "; "), s.SQL, raw)
		}
	}
}

// planNode is one node of EXPLAIN's JSON output.
type planNode struct {
	Type             string     `json:"Node Type"`
	Relation         string     `json:"Relation Name"`
	Index            string     `json:"Index Name"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	RemovedByJoin    float64    `json:"Rows Removed by Join Filter"`
	Rows             float64    `json:"Actual Rows"`
	Loops            float64    `json:"Actual Loops"`
	Plans            []planNode `json:"Plans"`
}

// faults lists what is wrong with the plan under n.
func (n planNode) faults(tables map[string]bool) []string {
	var out []string
	if tables[n.Relation] {
		if n.Type == "Seq Scan" {
			out = append(out, "sequential scan of "+n.Relation)
		}
		if wasted := (n.RemovedByFilter + n.RemovedByRecheck) * max(n.Loops, 1); wasted > MaxWastedRows {
			out = append(out, fmt.Sprintf("%s on %s (%s) reads and throws away %.0f rows", n.Type, n.Relation, n.Index, wasted))
		}
	}
	// A join's filter rejects pairs of rows its inputs read: a join that
	// reads every sent notice for each returned one and keeps the few of
	// the same individual wastes them as a filter on one table does.
	if wasted := n.RemovedByJoin * max(n.Loops, 1); wasted > MaxWastedRows {
		out = append(out, fmt.Sprintf("%s reads and throws away %.0f pairs of rows by its join filter", n.Type, wasted))
	}
	for _, c := range n.Plans {
		if sorted := c.Rows * max(c.Loops, 1); (n.Type == "Sort" || n.Type == "Incremental Sort") && sorted > MaxSortedRows {
			out = append(out, fmt.Sprintf("sorts %.0f rows", sorted))
		}
		out = append(out, c.faults(tables)...)
	}
	return out
}

// literal is v as an SQL literal, for EXECUTE's arguments.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case time.Time:
		return "'" + x.UTC().Format(time.RFC3339Nano) + "'"
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case nil:
		return "NULL"
	}
	if r := reflect.ValueOf(v); r.Kind() == reflect.String {
		return literal(r.String())
	}
	panic(fmt.Sprintf("dbtest: no literal for %T", v))
}

// PlansRead checks on either database that statements read only what
// they return through an index: on PostgreSQL as GenericPlansHold does;
// on SQLite, after grow, no statement's plan (EXPLAIN QUERY PLAN) may
// scan one of tables whole or sort rows it read ("USE TEMP B-TREE": a
// page in id order must be read in that order and stop), and a statement
// with an Index must search that index.
func PlansRead(t *testing.T, d *db.DB, tables []string, grow func(), stmts []Statement) {
	t.Helper()
	if d.Dialect == db.Postgres {
		GenericPlansHold(t, d, tables, grow, stmts)
		return
	}
	grow()
	for _, s := range stmts {
		rows, err := d.R.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+s.SQL, s.Args...)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		rows.Close()
		if s.Index != "" && !strings.Contains(strings.Join(plan, "\n"), "INDEX "+s.Index+" ") {
			t.Errorf("%s: does not search %s\nquery: %s\nplan: %s", s.Name, s.Index, s.SQL, strings.Join(plan, "; "))
		}
		for _, line := range plan {
			bad := strings.Contains(line, "TEMP B-TREE")
			for _, tb := range tables {
				bad = bad || line == "SCAN "+tb || strings.HasPrefix(line, "SCAN "+tb+" ")
			}
			if bad {
				t.Errorf("%s: %s\nquery: %s\nplan: %s", s.Name, line, s.SQL, strings.Join(plan, "; "))
			}
		}
	}
}
