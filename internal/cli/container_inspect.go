package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// The kinds of object docker's `inspect --type` names, in its order.
var inspectTypes = []string{"config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"}

// objectInspectOptions are the flags of `inspect`, `container inspect` and
// `volume inspect`.
type objectInspectOptions struct {
	Format string
	Type   string
	Size   bool
}

// inspectFunc fetches one object: its decoded form (for templates) and the
// daemon's JSON.
type inspectFunc func(ctx context.Context, name string) (typed any, raw []byte, err error)

func (c *CLI) newObjectInspectCommand() *cobra.Command {
	var o objectInspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Return low-level information on Docker objects",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("type") && o.Type == "" {
				return fmt.Errorf(`type is empty: must be one of "%s"`, strings.Join(inspectTypes, `", "`))
			}
			if o.Type != "" && !slices.Contains(inspectTypes, o.Type) {
				return fmt.Errorf(`unknown type: %q: must be one of "%s"`, o.Type, strings.Join(inspectTypes, `", "`))
			}
			return c.inspectObjects(cmd, args, o.Format, c.inspectAny(cmd, o))
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.Format, "format", "f", "", inspectFormatHelp)
	flags.StringVar(&o.Type, "type", "", "Only inspect objects of the given type")
	flags.BoolVarP(&o.Size, "size", "s", false, "Display total file sizes if the type is container")
	return cmd
}

func (c *CLI) newContainerInspectCommand() *cobra.Command {
	var o objectInspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(cmd, args, o.Format, c.containerInspector(o.Size))
		},
	}
	cmd.Flags().StringVarP(&o.Format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().BoolVarP(&o.Size, "size", "s", false, "Display total file sizes")
	return cmd
}

func (c *CLI) containerInspector(size bool) inspectFunc {
	return func(ctx context.Context, name string) (any, []byte, error) {
		cl, err := c.Client()
		if err != nil {
			return nil, nil, err
		}
		res, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{Size: size})
		return res.Container, res.Raw, err
	}
}

func (c *CLI) imageInspector() inspectFunc {
	return func(ctx context.Context, name string) (any, []byte, error) {
		cl, err := c.Client()
		if err != nil {
			return nil, nil, err
		}
		var raw bytes.Buffer
		res, err := cl.ImageInspect(ctx, name, client.ImageInspectWithRawResponse(&raw))
		return res.InspectResponse, raw.Bytes(), err
	}
}

func (c *CLI) networkInspector() inspectFunc {
	return func(ctx context.Context, name string) (any, []byte, error) {
		cl, err := c.Client()
		if err != nil {
			return nil, nil, err
		}
		res, err := cl.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		return res.Network, res.Raw, err
	}
}

func (c *CLI) volumeInspector() inspectFunc {
	return func(ctx context.Context, name string) (any, []byte, error) {
		cl, err := c.Client()
		if err != nil {
			return nil, nil, err
		}
		res, err := cl.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
		return res.Volume, res.Raw, err
	}
}

// inspectAny looks a name up as docker's `inspect` does: as a container,
// then an image, a network and a volume, the first kind that has it
// winning; with --type, as that kind only. berth has no swarm objects,
// plugins, configs or secrets, so those types find nothing.
func (c *CLI) inspectAny(cmd *cobra.Command, o objectInspectOptions) inspectFunc {
	kinds := []struct {
		name string
		get  inspectFunc
	}{
		{"container", c.containerInspector(o.Size)},
		{"image", c.imageInspector()},
		{"network", c.networkInspector()},
		{"volume", c.volumeInspector()},
	}
	return func(ctx context.Context, name string) (any, []byte, error) {
		for _, k := range kinds {
			if o.Type != "" && k.name != o.Type {
				continue
			}
			v, raw, err := k.get(ctx, name)
			if err != nil {
				if o.Type == "" && skippableInspectError(err) {
					continue
				}
				return nil, nil, err
			}
			if o.Size && k.name != "container" {
				fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: --size ignored for", k.name)
			}
			return v, raw, nil
		}
		return nil, nil, fmt.Errorf("Error: No such object: %s", name)
	}
}

// skippableInspectError is an answer meaning "not this kind of object".
func skippableInspectError(err error) bool {
	return cerrdefs.IsNotFound(err) || strings.Contains(err.Error(), "not supported") ||
		strings.Contains(err.Error(), "invalid reference format")
}

// inspectObjects prints the objects named as one indented JSON array, or
// format's output for each; the names that failed are reported together
// after the output (exit 1). A template that does not parse is exit 64.
func (c *CLI) inspectObjects(cmd *cobra.Command, names []string, f string, get inspectFunc) error {
	var tmpl *template.Template
	if f != "" && !format.IsJSON(f) {
		t, err := format.New("inspect", f)
		if err != nil {
			return statusError{code: 64, msg: err.Error()}
		}
		tmpl = t
	}
	var raws []json.RawMessage
	var text bytes.Buffer
	var errs []error
	for _, name := range names {
		v, raw, err := get(cmd.Context(), name)
		if err != nil {
			if client.IsErrConnectionFailed(err) {
				return err
			}
			errs = append(errs, err)
			continue
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			if raw, err = json.Marshal(v); err != nil {
				return err
			}
		}
		if tmpl == nil {
			raws = append(raws, bytes.TrimSpace(raw))
			continue
		}
		if err := renderInspect(&text, tmpl, v, raw); err != nil {
			errs = append(errs, err)
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

// renderInspect renders one object with its Go type first, then, if the
// template names something the type lacks (.Id, the JSON name of ID), with
// the daemon's JSON as maps, as docker does.
func renderInspect(w *bytes.Buffer, t *template.Template, typed any, raw []byte) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, typed); err == nil {
		buf.WriteByte('\n')
		buf.WriteTo(w)
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("unable to read inspect data: %w", err)
	}
	buf.Reset()
	if err := t.Option("missingkey=error").Execute(&buf, v); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	buf.WriteByte('\n')
	buf.WriteTo(w)
	return nil
}
