/** A round (person) or rounded-square (group) avatar with initials on a per-id colour. */
import { avatarHue, initials } from '../format.js';

interface AvatarProps {
  id: string;
  name: string;
  group?: boolean;
  size?: 'small' | 'medium' | 'large';
}

export function Avatar({ id, name, group = false, size = 'medium' }: AvatarProps) {
  return (
    <span class={`avatar avatar-${size}${group ? ' avatar-group' : ''}`} style={{ '--avatar-hue': String(avatarHue(id)) }} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
