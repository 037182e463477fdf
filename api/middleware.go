package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
	keyLogUser
)

// logUser is filled in by authenticate so the access log, which wraps it,
// can name the user.
type logUser struct{ name string }

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// validRequestID accepts client ids that are safe in logs and commit trailers.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// withRequestID keeps a well-formed incoming X-Request-Id or makes one, and
// echoes it in the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = randomHex(12)
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

// recorder captures the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe logs every request and counts it in the metrics by route pattern.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		lu := &logUser{}
		r = r.WithContext(context.WithValue(r.Context(), keyLogUser, lu))
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("handler panicked", "request_id", requestID(r.Context()), "panic", p)
				if rec.status == 0 {
					s.writeError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			route := routePattern(r)
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(rec.status)).Inc()
			s.metrics.latency.WithLabelValues(route, r.Method).Observe(d.Seconds())
			s.log.Info("request", "request_id", requestID(r.Context()), "method", r.Method, "route", route, "path", r.URL.Path,
				"status", rec.status, "bytes", rec.bytes, "duration_ms", float64(d.Microseconds())/1000, "user", lu.name, "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(rec, r)
	})
}

// routePattern is the matched chi pattern ("unmatched" for 404s), a
// bounded label for metrics.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// readBody reads a JSON request body up to the configured limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return nil, apiErr(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type %q: the API reads application/json", ct)
		}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body larger than %d bytes", mbe.Limit)
	}
	if err != nil {
		return nil, apiErr(http.StatusBadRequest, CodeBadRequest, "reading the request body: %v", err)
	}
	return b, nil
}

// decodeJSON strictly decodes body into v: one JSON value, no unknown
// fields, with errors that name the offending field.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apiErr(http.StatusBadRequest, CodeMalformedJSON, "the request body is empty; want a JSON object")
	}
	if err := checkJSONKeys(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return apiErr(http.StatusBadRequest, CodeMalformedJSON, "malformed JSON: data after the JSON object at offset %d", dec.InputOffset())
		}
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return apiErr(http.StatusBadRequest, CodeMalformedJSON, "malformed JSON at offset %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiErr(http.StatusBadRequest, CodeMalformedJSON, "malformed JSON: the body ends inside a value")
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		e := fieldErr(field, "want %s, got a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
		return e
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name, _ := strconv.Unquote(f)
		return &APIError{Status: http.StatusBadRequest, Code: CodeUnknownField, Message: fmt.Sprintf("unknown field %s in the request body", f),
			Details: []Detail{{Field: name, Message: "unknown field"}}}
	}
	return apiErr(http.StatusBadRequest, CodeMalformedJSON, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "uint", "uint64":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return k
}
