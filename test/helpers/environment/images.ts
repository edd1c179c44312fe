/**
 * Container images used when a Docker engine is available. Pinned here, and only here,
 * so upgrading a server version is a one-line change.
 */
export const POSTGRES_IMAGES = ['postgres:15', 'postgres:17'] as const;

/** MySQL-protocol server images: the two MySQL LTS lines and MariaDB's current LTS. */
export const MYSQL_IMAGES = ['mysql:8.0', 'mysql:8.4', 'mariadb:11.4'] as const;

/** Port the MySQL and MariaDB images listen on inside the container. */
export const MYSQL_CONTAINER_PORT = 3306;

/** Moto's server image; it listens on {@link MOTO_CONTAINER_PORT}. */
export const MOTO_IMAGE = 'motoserver/moto:5.2.1';

/** Port moto's server image listens on inside the container. */
export const MOTO_CONTAINER_PORT = 5000;

/** MongoDB images: the two newest major lines. Both get TLS and plain text on one port. */
export const MONGODB_IMAGES = ['mongo:7.0', 'mongo:8.0'] as const;

/** Port the MongoDB images listen on inside the container. */
export const MONGODB_CONTAINER_PORT = 27017;
