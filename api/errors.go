package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/ddc-gitops/ddc-gitops/desired"
)

// APIError is every error the API answers with: an HTTP status, a stable
// machine-readable code, a message for people and, for validation errors,
// one detail per problem. Handlers return it; the router writes it as JSON.
type APIError struct {
	Status  int      `json:"-"`
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
	// RequestID is filled in when the error is written.
	RequestID string `json:"request_id,omitempty"`
	// Err is the internal cause: logged, never sent.
	Err error `json:"-"`
}

// Detail locates one problem: in a desired-state file (File, Line, Col,
// Field) or in the request (Field only, e.g. "servers[2].address").
type Detail struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error formats the status, code and message (and the internal cause).
func (e *APIError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the internal cause.
func (e *APIError) Unwrap() error { return e.Err }

// Error codes.
const (
	CodeBadRequest         = "bad_request"
	CodeInvalidField       = "invalid_field"
	CodeUnknownField       = "unknown_field"
	CodeMalformedJSON      = "malformed_json"
	CodeTooLarge           = "body_too_large"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodeUnauthorized       = "unauthorized"
	CodeForbidden          = "forbidden"
	CodeNotFound           = "not_found"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeConflict           = "conflict"
	CodeDuplicate          = "duplicate_name"
	CodePreconditionFailed = "precondition_failed"
	CodeUnknownRevision    = "unknown_revision"
	CodePreconditionNeeded = "precondition_required"
	CodeInvalidState       = "invalid_desired_state"
	CodeIdempotencyReuse   = "idempotency_key_reused"
	CodeIdempotencyBusy    = "idempotency_key_in_progress"
	CodeRateLimited        = "rate_limited"
	CodeZoneRequired       = "zone_required"
	CodeNotConfigured      = "not_configured"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"
)

func apiErr(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// fieldErr is a 400 about one request field.
func fieldErr(field, format string, args ...any) *APIError {
	msg := fmt.Sprintf(format, args...)
	return &APIError{Status: http.StatusBadRequest, Code: CodeInvalidField, Message: field + ": " + msg,
		Details: []Detail{{Field: field, Message: msg}}}
}

// fieldErrs is a 400 listing every invalid request field.
func fieldErrs(ds []Detail) *APIError {
	if len(ds) == 1 {
		return &APIError{Status: http.StatusBadRequest, Code: CodeInvalidField, Message: ds[0].Field + ": " + ds[0].Message, Details: ds}
	}
	return &APIError{Status: http.StatusBadRequest, Code: CodeInvalidField, Message: fmt.Sprintf("%d invalid fields in the request", len(ds)), Details: ds}
}

// validationErr turns the desired state's errors into a 422.
func validationErr(errs desired.Errors) *APIError {
	e := &APIError{Status: http.StatusUnprocessableEntity, Code: CodeInvalidState,
		Message: fmt.Sprintf("the change would make the desired state invalid (%d error(s)); nothing was committed", len(errs))}
	for _, d := range errs {
		e.Details = append(e.Details, Detail{File: d.File, Line: d.Line, Col: d.Col, Field: d.Field, Message: d.Msg})
	}
	return e
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h: a returned *APIError is written as is, any other error
// as a 500 whose cause is logged but not shown.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = &APIError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error; the request id locates it in the server's log", Err: err}
	}
	out := *ae
	out.RequestID = requestID(r.Context())
	level := slog.LevelDebug
	if out.Status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "request_id", out.RequestID, "status", out.Status, "code", out.Code, "msg", out.Message, "err", out.Err)
	if out.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ddc-gitops"`)
	}
	writeJSON(w, out.Status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":"internal","message":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
