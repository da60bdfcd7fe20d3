package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestObserveKeepsResponseController: a handler behind observe can lift
// the server's read and write deadlines through http.ResponseController,
// as the streamed uploads (affected individuals, evidence) do. The
// status-recording writer hid the connection's, so the lifts failed
// silently and a list that took longer than the server's ReadTimeout to
// send was cut off mid-upload.
func TestObserveKeepsResponseController(t *testing.T) {
	s := &server{Deps: Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests"}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "duration"}, []string{"method", "route"})}
	errs := make(chan [2]error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		until := time.Now().Add(time.Hour)
		errs <- [2]error{rc.SetReadDeadline(until), rc.SetWriteDeadline(until)}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(s.observe(mux, mux))
	defer srv.Close()
	resp, err := srv.Client().Post(srv.URL+"/upload", "text/csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := <-errs
	if got[0] != nil || got[1] != nil {
		t.Fatalf("lifting the deadlines behind observe: read %v, write %v", got[0], got[1])
	}
}
