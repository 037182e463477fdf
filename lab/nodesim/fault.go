package nodesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds of a fault, so that a typo cannot hang a lab.
const (
	// MaxDelay is the longest latency a slow node adds.
	MaxDelay = time.Minute
)

// Fault is what a simulated node does wrong; the zero value is a healthy
// node. The fields combine: "unhealthy,slow=300ms" fails the health checks
// slowly.
type Fault struct {
	// Unhealthy makes the health checks fail: GET /health answers 503 with
	// status "unhealthy", the gRPC health service NOT_SERVING. Traffic on
	// the other paths is served as usual.
	Unhealthy bool
	// Delay is added before every answer, health checks included (a check
	// slower than HAProxy's check timeout fails); 0 to MaxDelay.
	Delay time.Duration
	// ErrorStatus (500 to 599, 0: none) is the answer to every request but
	// the health checks: the node stays UP in HAProxy and its traffic fails,
	// which shows as the backend's 5xx rate. Combine with Unhealthy for a
	// node that fails both.
	ErrorStatus int
}

// Healthy reports whether f is no fault at all.
func (f Fault) Healthy() bool { return f == Fault{} }

// String is the fault in the form ParseFault reads: "healthy", or the
// faults joined by commas ("unhealthy,slow=300ms,error=503").
func (f Fault) String() string {
	var parts []string
	if f.Unhealthy {
		parts = append(parts, "unhealthy")
	}
	if f.Delay > 0 {
		parts = append(parts, "slow="+f.Delay.String())
	}
	if f.ErrorStatus != 0 {
		parts = append(parts, "error="+strconv.Itoa(f.ErrorStatus))
	}
	if len(parts) == 0 {
		return "healthy"
	}
	return strings.Join(parts, ",")
}

// Validate reports every field out of its bounds.
func (f Fault) Validate() error {
	var errs []error
	if f.Delay < 0 || f.Delay > MaxDelay {
		errs = append(errs, fmt.Errorf("delay %v: want 0 to %v", f.Delay, MaxDelay))
	}
	if f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599) {
		errs = append(errs, fmt.Errorf("error status %d: want 500 to 599", f.ErrorStatus))
	}
	return errors.Join(errs...)
}

// ParseFault reads "healthy" (no fault), or one or more of "unhealthy",
// "slow=DURATION" and "error=STATUS" joined by commas.
func ParseFault(s string) (Fault, error) {
	var f Fault
	if strings.TrimSpace(s) == "healthy" {
		return f, nil
	}
	seen := map[string]bool{}
	var errs []error
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		key, val, hasVal := strings.Cut(item, "=")
		if seen[key] {
			errs = append(errs, fmt.Errorf("%q given twice", key))
			continue
		}
		seen[key] = true
		switch {
		case key == "unhealthy" && !hasVal:
			f.Unhealthy = true
		case key == "slow" && hasVal:
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("slow=%s: want a positive duration such as 300ms", val))
				continue
			}
			f.Delay = d
		case key == "error" && hasVal:
			n, err := strconv.Atoi(val)
			if err != nil {
				errs = append(errs, fmt.Errorf("error=%s: want an HTTP status 500 to 599", val))
				continue
			}
			f.ErrorStatus = n
		default:
			errs = append(errs, fmt.Errorf("%q: want healthy, or unhealthy, slow=DURATION and error=STATUS joined by commas", item))
		}
	}
	if err := f.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Fault{}, fmt.Errorf("fault %q: %w", s, errors.Join(errs...))
	}
	return f, nil
}

// faultJSON is Fault on the control endpoint (Delay as a Go duration).
type faultJSON struct {
	Unhealthy   bool   `json:"unhealthy"`
	Delay       string `json:"delay,omitempty"`
	ErrorStatus int    `json:"errorStatus,omitempty"`
}

// MarshalJSON writes {"unhealthy":B,"delay":"300ms","errorStatus":N}.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Unhealthy: f.Unhealthy, ErrorStatus: f.ErrorStatus}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes, refusing unknown fields,
// then validates.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	if err := decodeStrict(b, &j); err != nil {
		return err
	}
	out := Fault{Unhealthy: j.Unhealthy, ErrorStatus: j.ErrorStatus}
	if j.Delay != "" {
		d, err := time.ParseDuration(j.Delay)
		if err != nil {
			return fmt.Errorf("delay: %w", err)
		}
		out.Delay = d
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*f = out
	return nil
}

// faultState is a simulator's current fault, shared by its listeners.
type faultState struct {
	mu sync.Mutex
	f  Fault
}

func (s *faultState) get() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

func (s *faultState) set(f Fault) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.f
	s.f = f
	return old
}

// decodeStrict decodes one flat JSON object into v (a pointer to a struct
// of scalars), refusing duplicate keys, keys that are not exactly one of
// its fields' JSON names (encoding/json would match them
// case-insensitively), and anything after the object.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("want a JSON object")
	}
	names := map[string]bool{}
	t := reflect.TypeOf(v).Elem()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("malformed JSON: %w", err)
		}
		key, _ := tok.(string)
		switch {
		case !names[key]:
			return fmt.Errorf("unknown field %q", key)
		case seen[key]:
			return fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("malformed JSON at %q: %w", key, err)
		}
	}
	strict := json.NewDecoder(bytes.NewReader(b))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return err
	}
	if _, err := strict.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}
