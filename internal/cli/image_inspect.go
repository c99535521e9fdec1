package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/template"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// inspectOptions are the flags of `berth image inspect` and `berth inspect`.
type inspectOptions struct {
	Names  []string
	Format string
	Type   string // only for `berth inspect`: "" or "image"
	Size   bool
}

func (c *CLI) newImageInspectCommand() *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names, opts.Type = args, "image"
			return c.runInspect(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", inspectFormatHelp)
	return cmd
}

// newInspectCommand is docker's `inspect` for any object; berthd has images
// only so far.
func (c *CLI) newInspectCommand() *cobra.Command {
	var opts inspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			return c.runInspect(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.Format, "format", "f", "", inspectFormatHelp)
	flags.StringVar(&opts.Type, "type", "", "Only inspect objects of the given type")
	flags.BoolVarP(&opts.Size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

// inspectFormatHelp describes --format for the verbs that print one object
// (inspect, info, version, events).
const inspectFormatHelp = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"

// runInspect prints the daemon's JSON for each name as one indented array,
// or a template's output per object. Names that fail are reported together
// after the output (exit 1).
func (c *CLI) runInspect(cmd *cobra.Command, opts inspectOptions) error {
	if opts.Type != "" && opts.Type != "image" {
		return fmt.Errorf("%q is not a valid value for --type", opts.Type)
	}
	var tmpl *template.Template
	if opts.Format != "" && !format.IsJSON(opts.Format) {
		t, err := format.New("inspect", opts.Format)
		if err != nil {
			return err
		}
		tmpl = t
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var raws []json.RawMessage
	var text bytes.Buffer
	var errs []error
	for _, name := range opts.Names {
		var raw bytes.Buffer
		res, err := cl.ImageInspect(cmd.Context(), name, client.ImageInspectWithRawResponse(&raw))
		if err != nil {
			if client.IsErrConnectionFailed(err) {
				return err
			}
			if opts.Type == "" && cerrdefs.IsNotFound(err) {
				err = fmt.Errorf("Error: No such object: %s", name)
			}
			errs = append(errs, err)
			continue
		}
		if tmpl == nil {
			raws = append(raws, bytes.TrimSpace(raw.Bytes()))
			continue
		}
		if err := renderInspect(&text, tmpl, res.InspectResponse, raw.Bytes()); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if tmpl != nil {
		text.WriteTo(out)
	} else if err := writeIndentedArray(out, raws); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// writeIndentedArray writes objects as one JSON array indented by four
// spaces ("[]" when empty).
func writeIndentedArray(w io.Writer, objects []json.RawMessage) error {
	if len(objects) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	var list bytes.Buffer
	list.WriteByte('[')
	for i, o := range objects {
		if i > 0 {
			list.WriteByte(',')
		}
		list.Write(o)
	}
	list.WriteByte(']')
	var out bytes.Buffer
	if err := json.Indent(&out, list.Bytes(), "", "    "); err != nil {
		return fmt.Errorf("indenting the daemon's JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}
