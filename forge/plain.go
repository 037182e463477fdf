package forge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ddc-gitops/ddc-gitops/reconciler/atomicfile"
)

// PlainFile is the file in a Plain forge's state directory that records
// every proposal.
const PlainFile = "pull-requests.json"

// Plain is the Forge for a repository without a forge: a proposal is just
// its branch, recorded (with its comments) in a JSON file in a state
// directory for operators and tools to read; commit statuses are logged.
// Nothing is ever merged by Plain: an operator merges the branch with git.
type Plain struct {
	path string
	log  *slog.Logger
	now  func() time.Time
	mu   sync.Mutex // serialises read-modify-write of the state file
}

var _ Forge = (*Plain)(nil)

// plainState is the content of PlainFile.
type plainState struct {
	PullRequests []*plainPR `json:"pullRequests"`
}

type plainPR struct {
	PullRequest
	Comments  []plainComment `json:"comments,omitempty"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

type plainComment struct {
	Body string    `json:"body"`
	At   time.Time `json:"at"`
}

// NewPlain returns a Plain forge keeping its state in dir (created if needed).
func NewPlain(dir string, logger *slog.Logger) (*Plain, error) {
	if dir == "" {
		return nil, fmt.Errorf("plain forge: a state directory is required")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plain forge: creating state directory: %w", err)
	}
	abs, err := filepath.Abs(filepath.Join(dir, PlainFile))
	if err != nil {
		return nil, fmt.Errorf("plain forge: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Plain{path: abs, log: logger.With("component", "forge", "forge", "plain"), now: time.Now}, nil
}

// Path returns the state file's path.
func (p *Plain) Path() string { return p.path }

func (p *Plain) load() (*plainState, error) {
	var st plainState
	b, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plain forge: reading %s: %w", p.path, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("plain forge: decoding %s: %w", p.path, err)
	}
	return &st, nil
}

func (p *Plain) save(st *plainState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("plain forge: encoding state: %w", err)
	}
	if _, err := atomicfile.Write(p.path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("plain forge: %w", err)
	}
	return nil
}

// update runs fn on the state under the lock and saves it when fn succeeds.
func (p *Plain) update(fn func(*plainState) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.load()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	return p.save(st)
}

func (p *Plain) url(number int) string { return fmt.Sprintf("file://%s#%d", p.path, number) }

// EnsurePullRequest implements Forge: it records the proposal (or updates
// the open one for the same head).
func (p *Plain) EnsurePullRequest(_ context.Context, pr PR) (*PullRequest, error) {
	if err := pr.check(); err != nil {
		return nil, err
	}
	var out PullRequest
	err := p.update(func(st *plainState) error {
		now := p.now().UTC()
		var cur *plainPR
		next := 1
		for _, x := range st.PullRequests {
			next = max(next, x.Number+1)
			if x.Head == pr.Head && x.State == StateOpen {
				cur = x
			}
		}
		if cur == nil {
			cur = &plainPR{PullRequest: PullRequest{Number: next, URL: p.url(next), State: StateOpen, Head: pr.Head}, CreatedAt: now}
			st.PullRequests = append(st.PullRequests, cur)
			p.log.Info("recorded proposal", "number", next, "head", pr.Head, "base", pr.Base, "file", p.path)
		}
		cur.Base, cur.Title, cur.Body, cur.UpdatedAt = pr.Base, pr.Title, pr.Body, now
		cur.Labels = append(cur.Labels, missingLabels(cur.Labels, pr.Labels)...)
		out = cur.PullRequest
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// FindPullRequest implements Forge.
func (p *Plain) FindPullRequest(_ context.Context, head string) (*PullRequest, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.load()
	if err != nil {
		return nil, err
	}
	for i := len(st.PullRequests) - 1; i >= 0; i-- {
		if x := st.PullRequests[i]; x.Head == head {
			out := x.PullRequest
			return &out, nil
		}
	}
	return nil, nil
}

func (p *Plain) edit(number int, fn func(*plainPR)) error {
	return p.update(func(st *plainState) error {
		for _, x := range st.PullRequests {
			if x.Number == number {
				fn(x)
				x.UpdatedAt = p.now().UTC()
				return nil
			}
		}
		return fmt.Errorf("%w: plain forge: no proposal #%d", ErrInvalid, number)
	})
}

// ClosePullRequest implements Forge.
func (p *Plain) ClosePullRequest(_ context.Context, number int, comment string) error {
	return p.edit(number, func(x *plainPR) {
		if comment != "" {
			x.Comments = append(x.Comments, plainComment{Body: comment, At: p.now().UTC()})
		}
		x.State = StateClosed
	})
}

// Comment implements Forge.
func (p *Plain) Comment(_ context.Context, number int, body string) error {
	if strings.TrimSpace(body) == "" {
		return fmt.Errorf("%w: empty comment on #%d", ErrInvalid, number)
	}
	return p.edit(number, func(x *plainPR) {
		x.Comments = append(x.Comments, plainComment{Body: body, At: p.now().UTC()})
	})
}

// SetCommitStatus implements Forge: without a forge there is nowhere to
// show a status, so it is logged.
func (p *Plain) SetCommitStatus(_ context.Context, sha string, st Status) error {
	if err := st.check(sha); err != nil {
		return err
	}
	p.log.Info("commit status", "sha", sha, "context", st.Context, "state", st.State, "description", st.Description)
	return nil
}
