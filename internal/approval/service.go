package approval

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Service implements gate.Approver (the data path) and gate.Approvals (the
// deciding side) on a store.Store. It is safe for concurrent use, and
// several Services (replicas, or a restarted gateway) may share one store:
// everything a request is lives in the store, the Service holds only
// caches and timers rebuilt from it.
type Service struct {
	cfg       Config
	st        store.Store
	clock     gate.Clock
	log       *slog.Logger
	approvers gate.Principals // default approvers
	admins    gate.Principals // may revoke anything
	conns     map[string]Connection
	notify    *notifier
	grants    grantCache

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{} // by approval id
	subs    map[*subscriber]struct{}
	closed  bool
	sweep   gate.Timer

	bg     context.Context // ends at Close
	stop   context.CancelFunc
	done   chan struct{} // closed when the dispatcher exits
	closeN sync.Once
}

var (
	_ gate.Approver  = (*Service)(nil)
	_ gate.Approvals = (*Service)(nil)
)

// New validates cfg, subscribes to the store's approval changes, loads the
// active grants, expires what expired while no gateway was watching, and
// starts the background work (change dispatch, periodic sweeps, webhook
// delivery). ctx bounds only this start-up. Call Close to stop.
func New(ctx context.Context, cfg Config) (*Service, error) {
	cfg, approvers, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	admins, err := gate.ParsePrincipals(cfg.Admins)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, st: cfg.Store, clock: cfg.Clock, log: cfg.Logger, approvers: approvers, admins: admins,
		conns:   map[string]Connection{},
		waiters: map[string]map[chan struct{}]struct{}{},
		subs:    map[*subscriber]struct{}{},
		done:    make(chan struct{}),
	}
	for _, c := range cfg.Connections {
		if c.MaxGrant == 0 {
			c.MaxGrant = DefaultMaxGrant
		}
		s.conns[c.Name] = c
	}
	s.bg, s.stop = context.WithCancel(context.Background())
	changes, err := s.st.WatchApprovals(s.bg)
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("approval: watch the store: %w", err)
	}
	if err := s.reloadGrants(ctx); err != nil {
		s.stop()
		return nil, err
	}
	s.notify, err = newNotifier(cfg)
	if err != nil {
		s.stop()
		return nil, err
	}
	go s.dispatch(changes)
	s.sweepNow(ctx)
	s.scheduleSweep()
	return s, nil
}

// Close stops sweeps, change dispatch and subscriptions, and delivers the
// queued webhooks until ctx ends (then drops the rest). Waits in progress
// return gate.ErrShuttingDown and leave their requests pending: another
// gateway, or this one restarted, can still serve their retries. The store
// stays open.
func (s *Service) Close(ctx context.Context) error {
	s.closeN.Do(func() {
		s.mu.Lock()
		s.closed = true
		if s.sweep != nil {
			s.sweep.Stop()
		}
		for _, set := range s.waiters {
			for w := range set {
				signal(w)
			}
		}
		s.mu.Unlock()
		s.stop()
		<-s.done
	})
	return s.notify.close(ctx)
}

func (s *Service) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// body is what the store keeps of an approval (store.ApprovalRow.Body).
type body struct {
	V int `json:"v"`
	// Version counts the writes of this approval, so that caches apply
	// the newest state when reads race.
	Version  int64         `json:"version"`
	Approval gate.Approval `json:"approval"`
	// Voters holds identityKey of each vote's identity, in Votes order:
	// distinct approvers are counted by issuer and subject.
	Voters []string `json:"voters,omitempty"`
	// Revoked records who ended the request or grant early.
	Revoked *Revocation `json:"revoked,omitempty"`
	// RedeemKey is the statement's key (see redeemKey).
	RedeemKey string `json:"redeem_key,omitempty"`
}

// Revocation is who withdrew a request or ended a grant early, and why.
type Revocation struct {
	By      string    `json:"by"`
	Subject string    `json:"subject"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
}

const bodyVersion = 1

func decode(r *store.ApprovalRow) (*body, error) {
	var b body
	if err := json.Unmarshal(r.Body, &b); err != nil {
		return nil, fmt.Errorf("approval %s: undecodable body: %w", r.ID, err)
	}
	if b.Approval.ID != r.ID {
		return nil, fmt.Errorf("approval %s: body names %q", r.ID, b.Approval.ID)
	}
	return &b, nil
}

// encode writes b into r, keeping the index columns in step with it.
func (b *body) encode(r *store.ApprovalRow) error {
	a := &b.Approval
	b.V = bodyVersion
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("approval %s: encode: %w", a.ID, err)
	}
	r.ID, r.Status, r.Body = a.ID, string(a.Status), raw
	r.Kind, r.RedeemKey = store.ApprovalStatement, b.RedeemKey
	if a.Request.Grant != nil {
		r.Kind, r.RedeemKey = store.ApprovalGrant, ""
	}
	r.Requester = identityKey(a.Request.Identity)
	r.Connection = a.Request.Target.Name
	r.Created, r.Expires, r.Updated = a.Created, a.Expires, a.Updated
	return nil
}

// update changes approval id in one store transaction: change gets the
// decoded body and returns an error to write nothing. The body's Version
// and Updated are set here. It returns the body as written.
func (s *Service) update(ctx context.Context, id string, change func(b *body, now time.Time) error) (*body, error) {
	var out *body
	_, err := s.st.UpdateApproval(ctx, id, func(r *store.ApprovalRow) error {
		b, err := decode(r)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if err := change(b, now); err != nil {
			return err
		}
		b.Version++
		b.Approval.Updated = now
		out = b
		return b.encode(r)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("approval %s: %w", id, gate.ErrNotFound)
	}
	return out, err
}

// load reads one approval.
func (s *Service) load(ctx context.Context, id string) (*body, error) {
	r, err := s.st.Approval(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("approval %s: %w", id, gate.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("approval: %w", err)
	}
	return decode(&r)
}

// create stores a new approval and announces it.
func (s *Service) create(ctx context.Context, b *body) (*gate.Approval, error) {
	b.Version = 1
	var r store.ApprovalRow
	if err := b.encode(&r); err != nil {
		return nil, err
	}
	if err := s.st.CreateApproval(ctx, r); err != nil {
		return nil, fmt.Errorf("approval: store request: %w", err)
	}
	s.changed(b, "created")
	return s.view(b), nil
}

// changed runs after a write of ours committed: the grant cache and local
// waiters learn of it at once (the store's change feed tells them again,
// and the other replicas), and webhooks hear of event ("" for none).
func (s *Service) changed(b *body, event string) {
	s.grants.apply(b)
	s.wake(b.Approval.ID)
	if event != "" {
		s.notify.send(event, s.view(b), b.Revoked, s.clock.Now())
	}
}

// view returns the caller's copy of b's approval, with its URL.
func (s *Service) view(b *body) *gate.Approval {
	a := b.Approval
	a.URL = s.URL(a.ID)
	if r := b.Revoked; r != nil {
		a.Revoked = &gate.ApprovalVote{By: r.By, Subject: r.Subject, Comment: r.Comment, At: r.At}
	}
	return &a
}

// URL is where a human decides approval id.
func (s *Service) URL(id string) string { return s.cfg.BaseURL + "/approvals/" + id }

// ID prefixes: statements and grants are told apart by id, so that change
// events for statements cost the grant cache nothing.
const (
	statementPrefix = "ap_"
	grantPrefix     = "gr_"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newID returns prefix + 16 base32 characters (80 random bits):
// unguessable, short enough to type.
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return prefix + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// identityKey names an identity by issuer and subject, the pair that
// makes it the same caller.
func identityKey(id *gate.Identity) string {
	if id == nil {
		return ""
	}
	return id.Issuer + " " + id.Subject
}

func sameIdentity(a, b *gate.Identity) bool {
	return a != nil && b != nil && a.Issuer == b.Issuer && a.Subject == b.Subject
}

// bgCtx bounds background store work (expiry timers, cancellation of a
// request whose client went away).
func (s *Service) bgCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(s.bg), 30*time.Second)
}
