package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// TestTwoNodesOneChain runs two Ward servers on one PostgreSQL database
// (two nodes behind a load balancer), writes through both at once, and
// checks that every write landed once and the audit trail is one valid chain.
func TestTwoNodesOneChain(t *testing.T) {
	t.Parallel()
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	// Both nodes share one master key (as they must), and start, and so
	// migrate and create the keyset, at the same time.
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, keys.MasterKeySize))
	withKey := func(e *app.Env) {
		e.Getenv = func(k string) (string, bool) {
			if k == "WARD_MASTER_KEY" {
				return key, true
			}
			return "", false
		}
	}
	nodes := make([]*ward, 2)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = startWardAt(t, t.TempDir(), url, withKey)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	const perWorker, workers = 40, 4
	var shared incidentJSON
	nodes[0].must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "shared"}, &shared)
	errs := make(chan string, 2*workers*perWorker)
	for _, n := range nodes {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					// Alternate new incidents with notes on one shared incident.
					path, body, want := "/api/v1/incidents", map[string]any{"title": fmt.Sprintf("w%d-%d", w, i)}, http.StatusCreated
					if i%2 == 1 {
						path, body = "/api/v1/incidents/"+shared.ID+"/notes", map[string]any{"body": "note"}
					}
					if code, raw := n.do("POST", path, body, nil); code != want {
						errs <- fmt.Sprintf("%s: %d %s", path, code, raw)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	var tl struct{ Items []eventJSON }
	nodes[1].must(http.StatusOK, "GET", "/api/v1/incidents/"+shared.ID+"/timeline", nil, &tl)
	wantNotes := 2 * workers * perWorker / 2
	if len(tl.Items) != 1+wantNotes {
		t.Fatalf("shared incident has %d timeline entries, want %d", len(tl.Items), 1+wantNotes)
	}
	// The elected leader runs the retention purge once when it starts; its
	// record lands whenever election finishes, so wait for it, and check that
	// the two nodes did not both run it.
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := awaitRetentionRun(t, d); n != 1 {
		t.Fatalf("%d retention runs recorded, want the leader's one", n)
	}
	code, out, _ := nodes[0].run("audit", "verify")
	// The keyset, the default notice templates (seeded once for both nodes),
	// two tokens, two setup links, the shared incident, one entry per write,
	// the record of reading the shared incident's notes, and the retention run.
	want := fmt.Sprintf("intact: %d entries", 1+1+2+2+1+2*workers*perWorker+1+1)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("audit verify: %d %s, want %q", code, out, want)
	}
}
