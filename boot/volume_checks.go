package boot

import (
	"context"
	"fmt"
)

// What the boot path and bootd explain ask of a node's volume without
// changing it: its description and holders, its map target, whether its
// key can be had, and the golden snapshot it is cloned from.

// CheckNodeKey checks that the Ceph key of a node's own user can be had
// (for bootd explain); the key itself stays inside the Service.
func (s *Service) CheckNodeKey(ctx context.Context, mac MAC) error {
	_, vol, err := s.withVolume(ctx, mac, opKey)
	if err != nil {
		return err
	}
	_, err = s.volumes.Key(ctx, vol)
	return err
}

// MapTarget returns what a node's kernel needs to map its volume.
func (s *Service) MapTarget(ctx context.Context, mac MAC) (*MapTarget, error) {
	_, vol, err := s.withVolume(ctx, mac, opMapTarget)
	if err != nil {
		return nil, err
	}
	return s.volumes.Target(ctx, vol)
}

// Volume describes a node's volume as the backend sees it, with its holders.
func (s *Service) Volume(ctx context.Context, mac MAC) (*Volume, []Holder, error) {
	_, name, err := s.withVolume(ctx, mac, opDescribe)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.volumes.Volume(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	hs, err := s.volumes.Holders(ctx, name)
	return v, hs, err
}

// CheckGolden checks an image's golden snapshot: it exists and is
// protected; with protect it protects it.
func (s *Service) CheckGolden(ctx context.Context, image string, protect bool) (*Image, error) {
	img, err := s.catalog.Image(ctx, image)
	if err != nil {
		return nil, err
	}
	if s.volumes == nil {
		return nil, fmt.Errorf("check golden of %s: %w", image, ErrNoVolumes)
	}
	if err := s.volumes.Golden(ctx, img.Golden, protect); err != nil {
		return img, err
	}
	if protect {
		s.log.Info("golden snapshot protected", "image", image, "golden", img.Golden.String())
	}
	return img, nil
}
