// Package paging gets the right people to an alerted incident: escalation
// policies, on-call schedules, people's contact methods and notification
// rules, the page each alerted incident gets, the escalator that moves a
// page from step to step, and the outbox that delivers its notifications.
//
// Everything that must survive a restart is a row: a page records the step
// it has reached and when the next is due (pages.next_at); a message is a
// row of the notifications table, the outbox, written in the same
// transaction as the change that causes it. The escalator (Run) is a loop
// on every node that acts on what is due by Ward's clock, so a test's fake
// clock drives escalation, and two nodes on PostgreSQL never act twice on
// one row (each claims a row by a conditional UPDATE).
//
// No message carries PHI: package notify renders the incident number,
// severity, service and links, nothing else (45 CFR 164.312(e)(1)).
package paging

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
)

// Sealer encrypts and decrypts sealed columns (package keys).
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
}

// Destination is where one message goes: a contact method's kind and
// address, and for a webhook the secret that signs it.
type Destination struct {
	Kind    ContactKind
	Address string
	Secret  []byte
}

// Channels sends a message to a destination over the channel its kind
// names. The server builds it from its settings (SMTP, Twilio, Slack).
type Channels interface {
	Send(ctx context.Context, to Destination, m notify.Message) (notify.Receipt, error)
}

// Options tune a Pager. The zero value of each field means its default.
type Options struct {
	// BaseURL is where people reach Ward, for the links in messages.
	BaseURL string
	// PollInterval is how often the escalator looks for due work when
	// nothing woke it (default 1s).
	PollInterval time.Duration
	// Workers is how many messages are sent at once (default 32).
	Workers int
	// MaxAttempts is how many times a message is tried before Ward gives
	// up on it, loudly (default 6).
	MaxAttempts int
	// LinkTTL is how long an acknowledge or resolve link works (default
	// 12h).
	LinkTTL time.Duration
	// Lease is how long a node may hold a message it is sending, alive or
	// not, before another node may take it over (default 2m): a bound for
	// a message whose outcome could not be recorded.
	Lease time.Duration
	// NodeLease is how long a node's claims outlive its last sign of life
	// (default 10s): a node renews it every NodeLease/5, and once it
	// lapses other nodes take its messages over (see node).
	NodeLease time.Duration
	// ShutdownGrace is how long sends on their way may go on after the
	// escalator is told to stop (default 10s); a send still unfinished
	// then is handed back to the queue.
	ShutdownGrace time.Duration
	// RecordTimeout bounds the write of a round's outcomes, which goes on
	// after the escalator is told to stop (default 10s).
	RecordTimeout time.Duration
	// Outbound judges the URLs of webhook, Slack and Teams contact
	// methods when they are saved (--outbound-allow); nil refuses every
	// loopback, private and metadata address. Channels check again on
	// every connection.
	Outbound *outbound.Guard
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.LinkTTL <= 0 {
		o.LinkTTL = 12 * time.Hour
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 10 * time.Second
	}
	if o.RecordTimeout <= 0 {
		o.RecordTimeout = 10 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.NodeLease <= 0 {
		o.NodeLease = 10 * time.Second
	}
	return o
}

// Pager runs paging on one Ward node.
type Pager struct {
	db        *db.DB
	clock     clock.Clock
	keys      Sealer
	incidents *incident.Service
	channels  Channels
	log       *slog.Logger
	opts      Options
	wake      chan struct{}
	metrics   metrics
	node      *node
}

// New returns a Pager. channels may be nil until SetChannels is called;
// nothing is delivered before Run.
func New(d *db.DB, c clock.Clock, keys Sealer, incidents *incident.Service, channels Channels, log *slog.Logger, opts Options) *Pager {
	return &Pager{db: d, clock: c, keys: keys, incidents: incidents, channels: channels, log: log,
		opts: opts.withDefaults(), wake: make(chan struct{}, 1), metrics: newMetrics(), node: newNode()}
}

// Wake makes the escalator look for due work now rather than at its next
// poll. Calls that find it already woken do nothing.
func (p *Pager) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
