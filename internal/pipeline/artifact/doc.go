// Package artifact packs a step's kept files into one tar.gz and reads
// such archives back: the form in which the server stores a step's
// artifacts in its blob store, and in which a pod's step agent sends them.
//
// Archives hold regular files only, with clean relative names; reading
// refuses anything else (absolute names, "..", links, devices), so an
// archive a step made cannot write outside the folder it is unpacked in.
package artifact
