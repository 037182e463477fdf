package desired

// Validate checks a decoded, defaulted fleet and returns every problem found.
func Validate(f *Fleet) Errors {
	return nil
}
