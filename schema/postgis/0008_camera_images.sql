-- Camera stills (src/store/cameras.rs): each camera's (a Thing's) newest image of each hour, and
-- the images' bytes, kept once by content.
CREATE TABLE IF NOT EXISTS machizu_camera_image_data (
  sha256 text PRIMARY KEY,
  data bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS machizu_camera_images (
  id bigserial PRIMARY KEY,
  thing bigint NOT NULL,
  taken_at timestamptz NOT NULL,
  hour text NOT NULL,
  received_at timestamptz NOT NULL,
  sha256 text NOT NULL REFERENCES machizu_camera_image_data (sha256),
  bytes bigint NOT NULL,
  width bigint NOT NULL,
  height bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS machizu_camera_images_thing ON machizu_camera_images (thing, taken_at);
CREATE INDEX IF NOT EXISTS machizu_camera_images_sha256 ON machizu_camera_images (sha256);
