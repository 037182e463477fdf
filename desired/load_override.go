package desired

import "io/fs"

// decodeOverrides decodes overrides/*.yaml into f.Overrides.
func (l loader) decodeOverrides(fsys fs.FS, f *Fleet, src *Source, errs *Errors) {
	files := yamlFiles(fsys, OverridesDir, errs)
	os := make([]*Override, len(files))
	results := l.decodeFiles(fsys, files, KindOverride, func(i int) any {
		os[i] = &Override{File: files[i]}
		return os[i]
	})
	for i, r := range results {
		if r.merge(files[i], src, errs) {
			f.Overrides = append(f.Overrides, os[i])
		}
	}
}
