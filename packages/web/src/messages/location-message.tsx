/**
 * Shared places: a card with the place's name, address and coordinates that
 * opens the spot on OpenStreetMap in a new tab. No map tiles are loaded into
 * the page (its policy allows images from this server only).
 */
import { contentOf, fallbackLine, hasContent } from './media-parts.js';
import type { MessageBodyProps, MessageKind } from './registry.js';

/** Zoom of the map the link opens: a street with its surroundings. */
const MAP_ZOOM = 16;

export function openStreetMapUrl(latitude: number, longitude: number): string {
  const lat = latitude.toFixed(6);
  const lon = longitude.toFixed(6);
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=${MAP_ZOOM}/${lat}/${lon}`;
}

/** "48.85837° N, 2.29448° E": five decimals are about a metre. */
export function formatCoordinates(latitude: number, longitude: number): string {
  const lat = `${Math.abs(latitude).toFixed(5)}° ${latitude < 0 ? 'S' : 'N'}`;
  const lon = `${Math.abs(longitude).toFixed(5)}° ${longitude < 0 ? 'W' : 'E'}`;
  return `${lat}, ${lon}`;
}

function LocationBody({ message }: MessageBodyProps) {
  const location = contentOf(message, 'location');
  if (location === undefined) return null;
  const name = location.name.trim() === '' ? 'Location' : location.name.trim();
  const coordinates = formatCoordinates(location.latitude, location.longitude);
  return (
    <a
      class="location-card"
      href={openStreetMapUrl(location.latitude, location.longitude)}
      target="_blank"
      rel="noopener noreferrer nofollow"
      aria-label={`${name}${location.address === '' ? '' : `, ${location.address}`}: open on OpenStreetMap`}
      data-testid="location-link"
    >
      <span class="location-pin" aria-hidden="true">
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <path d="M12 22s7-6.2 7-12a7 7 0 0 0-14 0c0 5.8 7 12 7 12z" fill="currentColor" />
          <circle cx="12" cy="10" r="2.6" fill="#fff" />
        </svg>
      </span>
      <span class="location-info">
        <span class="location-name" data-testid="location-name">
          {name}
        </span>
        {location.address !== '' && <span class="location-address">{location.address}</span>}
        <span class="location-coordinates">{coordinates}</span>
        <span class="location-open">Open in OpenStreetMap ↗</span>
      </span>
    </a>
  );
}

export const locationKind: MessageKind = {
  name: 'location',
  matches: (message) => hasContent(message, 'location'),
  layout: 'bubble',
  Body: LocationBody,
  preview: fallbackLine('📍 Location'),
};
