/**
 * Container images used when a Docker engine is available. Pinned here, and only here,
 * so upgrading a server version is a one-line change.
 */
export const POSTGRES_IMAGES = ['postgres:15', 'postgres:17'] as const;

/** Moto's server image; it listens on {@link MOTO_CONTAINER_PORT}. */
export const MOTO_IMAGE = 'motoserver/moto:5.2.1';

/** Port moto's server image listens on inside the container. */
export const MOTO_CONTAINER_PORT = 5000;
