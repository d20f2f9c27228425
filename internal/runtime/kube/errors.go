package kube

import "errors"

var (
	// ErrNoImage is returned by Apply for a service without an image: a
	// cluster runs images, not commands in a source folder.
	ErrNoImage = errors.New("kube runtime: service has no image")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("kube runtime: closed")
	// ErrInvalidWorkload is returned by Apply for a workload that cannot
	// be translated (bad quantity, missing name).
	ErrInvalidWorkload = errors.New("kube runtime: invalid workload")
)
