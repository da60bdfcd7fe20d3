package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/wardhq/ward/internal/authz"
)

// TestNoticeRunOutlivesReadDeadline: a run of letters or emails may take
// minutes. huma sets the operation's body read deadline before it reads
// the body and leaves it set; on HTTP/1.1 the connection's background read
// then cancels the request's context when it passes, so a run longer than
// the server's 30 s ReadTimeout was cut off. A run asked for without a
// body (the usual case) starts that background read at once. The test
// scales the deadline down to 100 ms and runs a handler for three times
// as long.
func TestNoticeRunOutlivesReadDeadline(t *testing.T) {
	const readTimeout = 100 * time.Millisecond
	mux := http.NewServeMux()
	a := humago.New(mux, huma.DefaultConfig("test", "0"))
	o := op("generate-letters", http.MethodPost, "/incidents/{id}/notices/letters", "letters", http.StatusCreated, authz.BreachWrite)
	o.BodyReadTimeout = readTimeout
	cancelled := make(chan bool, 1)
	huma.Register(a, o, func(ctx context.Context, in *noticeRunInput) (*struct{}, error) {
		select {
		case <-ctx.Done():
			cancelled <- true
		case <-time.After(3 * readTimeout):
			cancelled <- false
		}
		return nil, nil
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+Prefix+"/incidents/INC-1/notices/letters", "application/json", nil)
	if err == nil {
		resp.Body.Close()
	}
	if <-cancelled {
		t.Fatalf("the run's context was cancelled when the body read deadline passed (response error: %v)", err)
	}
}
