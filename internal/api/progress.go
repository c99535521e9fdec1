package api

import (
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/jsonstream"
)

// progressStream sends progress messages as Docker's JSON stream. The 200 response
// starts with the first message, so that an error before any progress (an unknown
// image, a refused login) is still a plain HTTP error with its status; an error
// after that can only travel in the stream, as an errorDetail message.
type progressStream struct {
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func newProgressStream(w http.ResponseWriter) *progressStream {
	return &progressStream{w: w, enc: json.NewEncoder(w)}
}

// begin starts the 200 response now, so that every error after it travels in
// the stream (Docker's load answers so, even for a tarball it cannot read).
func (p *progressStream) begin() {
	if !p.started {
		p.w.Header().Set("Content-Type", "application/json")
		p.w.WriteHeader(http.StatusOK)
		p.started = true
	}
}

func (p *progressStream) WriteProgress(m jsonstream.Message) error {
	p.begin()
	if err := p.enc.Encode(m); err != nil {
		return err
	}
	if f, ok := p.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// streamedError is a failure in the stream: the errorDetail object, plus the
// older top-level "error" string that clients before API 1.x still read.
type streamedError struct {
	jsonstream.Message
	Error string `json:"error"`
}

// finish ends the operation: err is returned for writeError when nothing was
// streamed yet, else written into the stream (and nil returned).
func (p *progressStream) finish(err error) error {
	if err == nil || !p.started {
		if err == nil && !p.started {
			p.w.Header().Set("Content-Type", "application/json")
			p.w.WriteHeader(http.StatusOK)
		}
		return err
	}
	p.enc.Encode(streamedError{
		Message: jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}},
		Error:   err.Error(),
	})
	return nil
}
