package seccomp

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"golang.org/x/sys/unix"
)

// A Filter crosses from the runtime to the container's init as JSON with its program
// as raw bytes (8 per instruction, base64 in the JSON): init then neither decodes the
// profile, by far the largest part of a default spec, nor compiles it, and the
// runtime compiles while init's process starts.

type filterWire struct {
	Program []byte `json:"program"`
	Flags   uint   `json:"flags,omitempty"`
	Notify  bool   `json:"notify,omitempty"`
}

const insnSize = 8

// MarshalJSON encodes f for the container's init.
func (f *Filter) MarshalJSON() ([]byte, error) {
	w := filterWire{Program: make([]byte, 0, len(f.Program)*insnSize), Flags: f.Flags, Notify: f.Notify}
	for _, in := range f.Program {
		w.Program = binary.LittleEndian.AppendUint16(w.Program, in.Code)
		w.Program = append(w.Program, in.Jt, in.Jf)
		w.Program = binary.LittleEndian.AppendUint32(w.Program, in.K)
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON encoded.
func (f *Filter) UnmarshalJSON(b []byte) error {
	var w filterWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	if len(w.Program)%insnSize != 0 || len(w.Program) == 0 || len(w.Program)/insnSize > maxInsns {
		return fmt.Errorf("seccomp: filter of %d bytes is no program", len(w.Program))
	}
	*f = Filter{Flags: w.Flags, Notify: w.Notify}
	f.Program = make([]unix.SockFilter, 0, len(w.Program)/insnSize)
	for p := w.Program; len(p) > 0; p = p[insnSize:] {
		f.Program = append(f.Program, unix.SockFilter{
			Code: binary.LittleEndian.Uint16(p),
			Jt:   p[2],
			Jf:   p[3],
			K:    binary.LittleEndian.Uint32(p[4:]),
		})
	}
	return nil
}
