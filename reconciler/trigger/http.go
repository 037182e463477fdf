package trigger

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/ddc-gitops/ddc-gitops/webhooks"
)

// MaxWebhookBody bounds the request body the sync handler reads (GitHub
// caps webhook payloads at 25 MB, but push payloads are far smaller; a larger
// body is refused with 413).
const MaxWebhookBody = 4 << 20

// HTTPAuth says which requests may trigger a sync. At least one field must
// be set; a request passes if it satisfies either.
type HTTPAuth struct {
	// Token is accepted as "Authorization: Bearer <Token>".
	Token string
	// Secret is a webhook secret: the request's X-Hub-Signature-256 header
	// must be "sha256=" and the hex HMAC-SHA256 of the body under Secret, as
	// GitHub, Gitea and Forgejo send it.
	Secret string
}

// HTTPHandler returns the handler for POST /v1/sync (mount it at that
// path): it authenticates the request, notifies ReasonWebhook and answers
// 202 Accepted at once; the sync runs later, collapsed with any other
// pending trigger. GitHub's "ping" event is authenticated and answered 200
// without a sync. Unauthenticated requests get 401, other methods 405.
func (t *Trigger) HTTPHandler(auth HTTPAuth) (http.Handler, error) {
	if auth.Token == "" && auth.Secret == "" {
		return nil, errors.New("sync webhook: refusing to serve without a token or a webhook secret")
	}
	tokenSum := sha256.Sum256([]byte(auth.Token))
	// Signed bodies are read at a bounded cost to senders without the
	// secret (the same reader as the API's webhook receivers).
	signed := webhooks.NewSignedReader(MaxWebhookBody)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, `{"error":"use POST"}`)
			return
		}
		// A bearer token needs no body; a signature is checked while the
		// body is read, and only when the header is there at all.
		if !bearerOK(r, auth.Token, tokenSum) {
			code := http.StatusUnauthorized
			if auth.Secret != "" && r.Header.Get(hubSignature) != "" {
				_, code, _ = signed.Read(w, r, hubSignature, []byte(auth.Secret))
			}
			switch code {
			case 0: // verified
			case http.StatusUnauthorized:
				w.Header().Set("WWW-Authenticate", `Bearer realm="ddc-gitops"`)
				writeJSON(w, http.StatusUnauthorized, `{"error":"missing or invalid bearer token or X-Hub-Signature-256"}`)
				return
			case http.StatusRequestEntityTooLarge:
				writeJSON(w, code, `{"error":"body too large"}`)
				return
			default:
				writeJSON(w, code, `{"error":"cannot verify the body now"}`)
				return
			}
		}
		if r.Header.Get("X-GitHub-Event") == "ping" {
			writeJSON(w, http.StatusOK, `{"status":"pong"}`)
			return
		}
		t.Notify(ReasonWebhook)
		writeJSON(w, http.StatusAccepted, `{"status":"accepted"}`)
	}), nil
}

func bearerOK(r *http.Request, token string, sum [sha256.Size]byte) bool {
	if token == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	// Compare digests: constant time, and the token's length does not leak.
	g := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(g[:], sum[:]) == 1
}

// hubSignature is GitHub's (and Gitea's, Forgejo's) signature header.
const hubSignature = "X-Hub-Signature-256"

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")
}
