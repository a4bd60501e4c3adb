package pgwire

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/sqlpg"
)

// catalogs implements analyzer with sqlpg's column lineage over each
// upstream's catalog. A catalog is loaded on a side connection at first
// use, reloaded after catalogRefresh and after a DDL statement through the
// gateway succeeds on that connection; each Masking's protected set is
// resolved once per catalog.
type catalogs struct {
	srv     *Server
	refresh time.Duration

	mu  sync.Mutex
	ups map[string]*upCatalog
}

const catalogRefresh = time.Minute

type upCatalog struct {
	mu     sync.Mutex
	cat    *sqlpg.Catalog
	loaded time.Time
	stale  bool
	prot   map[*Masking]*sqlpg.Protected
}

func newCatalogs(s *Server) *catalogs {
	return &catalogs{srv: s, refresh: catalogRefresh, ups: map[string]*upCatalog{}}
}

// invalidate makes the next analysis on up reload its catalog.
func (cs *catalogs) invalidate(up string) {
	cs.mu.Lock()
	u := cs.ups[up]
	cs.mu.Unlock()
	if u != nil {
		u.mu.Lock()
		u.stale = true
		u.mu.Unlock()
	}
}

// protected returns m's protected set on up's current catalog, loading or
// refreshing the catalog as needed.
func (cs *catalogs) protected(ctx context.Context, up *Upstream, m *Masking) (*sqlpg.Protected, error) {
	cs.mu.Lock()
	u := cs.ups[up.Name]
	if u == nil {
		u = &upCatalog{}
		cs.ups[up.Name] = u
	}
	cs.mu.Unlock()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.cat == nil || u.stale || time.Since(u.loaded) > cs.refresh {
		est := cs.srv.estimators[up.Name]
		pc, err := est.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("cannot read the upstream catalog: %w", err)
		}
		cat, err := sqlpg.LoadCatalog(ctx, pc)
		est.put(pc, err == nil && pc.TxStatus() == 'I')
		if err != nil {
			return nil, fmt.Errorf("cannot read the upstream catalog: %w", err)
		}
		if u.cat == nil || cat.Version() != u.cat.Version() {
			u.prot = map[*Masking]*sqlpg.Protected{}
		}
		u.cat, u.loaded, u.stale = cat, time.Now(), false
	}
	p := u.prot[m]
	if p == nil {
		var err error
		if p, err = u.cat.Protect(m.Columns); err != nil {
			return nil, err
		}
		for _, w := range p.Warnings {
			cs.srv.log.Warn("mask column pattern matches no column", "connection", up.Name, "pattern", w)
		}
		u.prot[m] = p
	}
	return p, nil
}

// analyze computes the masking of sql for m on up.
func (cs *catalogs) analyze(ctx context.Context, up *Upstream, sql string, m *Masking, resolve sqlpg.LineageResolver) (*maskState, error) {
	prot, err := cs.protected(ctx, up, m)
	if err != nil {
		return nil, err
	}
	lin, err := sqlpg.Analyze(sql, prot.Catalog(), prot, resolve)
	if err != nil {
		return nil, err
	}
	ms := &maskState{m: m, verdicts: make([]stmtVerdict, len(lin.Statements)), lineage: lin.Statements,
		predicates: lin.MaskedPredicates, writes: lin.MaskedWrites,
		byOID: func(oid uint32, att uint16) (string, bool) {
			ref, ok := prot.ByOID(oid, int16(att))
			if !ok {
				return "", false
			}
			return ref.String(), true
		}}
	for i := range lin.Statements {
		st := &lin.Statements[i]
		if st.Opaque != "" || st.Columns == nil {
			continue // nil: any row the server sends is masked whole
		}
		v := make(stmtVerdict, len(st.Columns))
		for j, col := range st.Columns {
			v[j].unresolved = col.Unresolved
			if len(col.Sources) > 0 {
				v[j].protected = col.Sources[0].String()
			}
			ms.sensitive = ms.sensitive || col.Masked()
		}
		ms.verdicts[i] = v
	}
	for i := range lin.Statements {
		ms.sensitive = ms.sensitive || lin.Statements[i].Opaque != ""
	}
	ms.sensitive = ms.sensitive || len(lin.MaskedPredicates) > 0 || len(lin.MaskedWrites) > 0
	return ms, nil
}
