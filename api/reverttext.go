package api

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/desired"
	"github.com/ddc-gitops/ddc-gitops/plan"
	"github.com/ddc-gitops/ddc-gitops/render"
	"github.com/ddc-gitops/ddc-gitops/repo"
)

// maxRevertBody bounds a revert pull request's body (GitHub's limit is 65536).
const maxRevertBody = 60000

// revertMessage writes a revert's commit message and pull request.
type revertMessage struct {
	rev   string
	cd    *repo.CommitDiff
	hosts []RevertHost
	head  string // the branch head the revert is built on
	plan  string // Markdown, from plan.WriteText
	fp    string
}

func (m revertMessage) commitSubject() string {
	s, _, _ := strings.Cut(strings.TrimSpace(m.cd.Message), "\n")
	return s
}

// subject is the commit's subject, as git revert writes it.
func (m revertMessage) subject() string {
	return `Revert "` + m.commitSubject() + `"`
}

func (m revertMessage) title() string {
	return fmt.Sprintf("Revert %.12s: quarantined by %s", m.rev, strings.Join(m.hostNames(), ", "))
}

func (m revertMessage) hostNames() []string {
	out := make([]string, len(m.hosts))
	for i, h := range m.hosts {
		out[i] = h.Host
	}
	return out
}

// body is the commit message body: the reverted commit, the hosts and
// their evidence, the plan (indented, so no line starts with '#').
func (m revertMessage) body() string {
	var b strings.Builder
	fmt.Fprintf(&b, "This reverts commit %s (%s, by %s <%s>).\n\n", m.rev, m.commitSubject(), m.cd.Author.Name, m.cd.Author.Email)
	fmt.Fprintf(&b, "The health gate of %s tripped on it: the host rolled back to its last good revision and quarantined it.\n",
		strings.Join(m.hostNames(), ", "))
	for _, h := range m.hosts {
		fmt.Fprintf(&b, "\n%s (zone %s) at %s: %s\n", h.Host, h.Zone, h.At.Format("2006-01-02T15:04:05Z07:00"), oneLine(h.Reason))
		for _, e := range h.Evidence {
			fmt.Fprintf(&b, "  %s\n", evidenceLine(oneLine(e.Signal), oneLine(e.Subject), e.Before, e.After, e.Threshold, e.Tripped))
		}
	}
	fmt.Fprintf(&b, "\nPlan of the revert (from %.12s):\n\n", m.head)
	for line := range strings.SplitSeq(strings.TrimRight(m.plan, "\n"), "\n") {
		if line == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// prBody is the pull request's body: the same facts in Markdown, with the
// reverted commit's author mentioned.
func (m revertMessage) prBody() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<!-- ddc-gitops-revert revision=%s fingerprint=%s base=%s -->\n", m.rev, m.fp, m.head)
	fmt.Fprintf(&b, "The health gate of %s tripped on commit `%s` (%s) and quarantined it. "+
		"**Merging this reverts it** on top of `%.12s`.\n\n", hostList(m.hostNames()), m.rev, mdEscape(m.commitSubject()), m.head)
	fmt.Fprintf(&b, "Author of the reverted commit: %s, please have a look.\n", mention(m.cd.Author.Name, m.cd.Author.Email))
	b.WriteString("\n### Evidence\n")
	for _, h := range m.hosts {
		fmt.Fprintf(&b, "\n**%s** (zone `%s`) at %s: %s\n", h.Host, h.Zone, h.At.Format("2006-01-02T15:04:05Z07:00"), mdEscape(oneLine(h.Reason)))
		if h.LastGood != "" {
			fmt.Fprintf(&b, "(rolled back to `%.12s`)\n", h.LastGood)
		}
		if len(h.Evidence) == 0 {
			continue
		}
		b.WriteString("\n| Signal | Subject | Before | After | Threshold | Tripped |\n|---|---|---:|---:|---:|---|\n")
		for _, e := range h.Evidence {
			tripped := ""
			if e.Tripped {
				tripped = "**yes**"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s | %s |\n", mdEscape(e.Signal), mdEscape(e.Subject), num(e.Before), num(e.After), num(e.Threshold), tripped)
		}
	}
	b.WriteString("\n")
	b.WriteString(m.plan)
	fmt.Fprintf(&b, "\n---\nProposed by the ddc-gitops API (automatic revert). The branch `%s%s` is rebuilt when the branch head or the evidence changes; "+
		"once anyone else commits to it, it is left alone. Closing this pull request without merging stops the proposal.\n", RevertBranchPrefix, m.rev)
	s := b.String()
	if len(s) > maxRevertBody {
		s = strings.ToValidUTF8(s[:maxRevertBody], "") + "\n\n(truncated)\n"
	}
	return s
}

// evidenceLine is one gate signal in plain text.
func evidenceLine(signal, subject string, before, after, threshold float64, tripped bool) string {
	s := fmt.Sprintf("%s %s: before %s, after %s (threshold %s)", signal, subject, num(before), num(after), num(threshold))
	if tripped {
		s += " TRIPPED"
	}
	return s
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// mdEscape keeps agent-reported text from breaking the Markdown (tables,
// mentions, HTML).
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "@", "@\u200b", "`", "'", "\n", " ")
	return r.Replace(s)
}

func hostList(hosts []string) string {
	q := make([]string, len(hosts))
	for i, h := range hosts {
		q[i] = "`" + h + "`"
	}
	return strings.Join(q, ", ")
}

// mention names a commit author in a pull request: @login for a GitHub
// noreply address (ID+login@users.noreply.github.com), else name and email.
func mention(name, email string) string {
	if local, ok := strings.CutSuffix(email, "@users.noreply.github.com"); ok {
		if _, login, found := strings.Cut(local, "+"); found {
			local = login
		}
		if local != "" && !strings.ContainsAny(local, " <>`") {
			return "@" + local
		}
	}
	return fmt.Sprintf("%s (`%s`)", mdEscape(name), strings.ReplaceAll(email, "`", ""))
}

// revertPlan is the plan from head to head with files applied, for the
// hosts it changes, as Markdown. A revert that would not validate is an
// *invalidRevert.
func revertPlan(head fs.FS, files []revertFile) (string, error) {
	old, err := loadForRevert(head, "the branch head")
	if err != nil {
		return "", err
	}
	cand, err := revertCandidate(head, files)
	if err != nil {
		return "", err
	}
	nw, err := desired.Load(cand)
	if err != nil {
		var errs desired.Errors
		if errors.As(err, &errs) {
			return "", &invalidRevert{err: errs}
		}
		return "", fmt.Errorf("loading the reverted fleet: %w", err)
	}
	pl, err := plan.Compute(old, nw, render.Options{})
	if err != nil {
		return "", fmt.Errorf("planning the revert: %w", err)
	}
	// The hosts the revert changes; every host (all unchanged) when none.
	affected := &plan.Plan{Containers: pl.Containers, DNS: pl.DNS}
	for _, h := range pl.Hosts {
		if h.Changed() {
			affected.Hosts = append(affected.Hosts, h)
		}
	}
	if len(affected.Hosts) == 0 {
		affected = pl
	}
	var buf bytes.Buffer
	if err := affected.WriteText(&buf); err != nil {
		return "", err
	}
	return buf.String(), nil
}
