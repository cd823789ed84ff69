/**
 * A menu button as WAI-ARIA describes it, for the app's option menus (a
 * conversation's, a message's): the menu opens on its first item, the arrow
 * keys, Home and End move between items, Escape closes it and returns to the
 * button, Tab or a click elsewhere closes it. Items come in groups, drawn
 * with separators between them.
 */
import { Fragment, type ComponentChildren } from 'preact';
import { useEffect, useId, useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface MenuItem {
  label: string;
  run(): void;
}

interface MenuButtonProps {
  /** The button's and the menu's accessible name ("Conversation options"). */
  label: string;
  items: MenuItem[][];
  /** The button's icon. */
  children: ComponentChildren;
  buttonClass?: string;
  testId?: string;
  menuTestId?: string;
}

export function MenuButton({ label, items, children, buttonClass = 'icon-button', testId, menuTestId }: MenuButtonProps) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const anchor = useRef<HTMLDivElement>(null);
  const menu = useRef<HTMLDivElement>(null);
  const menuId = useId();

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };

  // Focus moves into the menu as it renders. Deferred to after paint, a closing Escape that came
  // first would run it on the way out, onto an item about to vanish, and focus would fall to the page.
  useLayoutEffect(() => {
    if (open) menu.current?.querySelector<HTMLButtonElement>('[role="menuitem"]')?.focus();
  }, [open]);

  useEffect(() => {
    if (!open) return;
    const onPointerDown = (event: PointerEvent) => {
      if (!(event.target instanceof Node) || !anchor.current?.contains(event.target)) setOpen(false);
    };
    document.addEventListener('pointerdown', onPointerDown);
    return () => document.removeEventListener('pointerdown', onPointerDown);
  }, [open]);

  const choose = (item: MenuItem) => {
    close(true);
    item.run();
  };

  const onMenuKeyDown = (event: KeyboardEvent) => {
    const buttons = Array.from(menu.current?.querySelectorAll<HTMLButtonElement>('[role="menuitem"]') ?? []);
    const index = document.activeElement instanceof HTMLButtonElement ? buttons.indexOf(document.activeElement) : -1;
    const focusAt = (next: number) => buttons[(next + buttons.length) % buttons.length]?.focus();
    switch (event.key) {
      case 'Escape':
        close(true);
        break;
      case 'Tab':
        // Focus moves on as usual, out of the closed menu.
        setOpen(false);
        return;
      case 'ArrowDown':
        focusAt(index + 1);
        break;
      case 'ArrowUp':
        focusAt(index - 1);
        break;
      case 'Home':
        focusAt(0);
        break;
      case 'End':
        focusAt(buttons.length - 1);
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopPropagation();
  };

  return (
    <div class="menu-anchor" ref={anchor}>
      <button
        ref={button}
        type="button"
        class={`${buttonClass}${open ? ' pressed' : ''}`}
        aria-label={label}
        title={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        data-testid={testId}
        onClick={() => setOpen(!open)}
        onKeyDown={(event) => {
          // A key pressed between the click and the menu's render lands here.
          if (event.key === 'Escape' && open) {
            event.preventDefault();
            close(true);
            return;
          }
          if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
          event.preventDefault();
          setOpen(true);
        }}
      >
        {children}
      </button>
      {open && (
        <div ref={menu} id={menuId} class="menu" role="menu" aria-label={label} data-testid={menuTestId} tabIndex={-1} onKeyDown={onMenuKeyDown}>
          {items.map((group, groupIndex) => (
            <Fragment key={group[0]?.label}>
              {groupIndex > 0 && <hr class="menu-separator" />}
              {group.map((item) => (
                <button key={item.label} type="button" role="menuitem" tabIndex={-1} class="menu-item" onClick={() => choose(item)}>
                  {item.label}
                </button>
              ))}
            </Fragment>
          ))}
        </div>
      )}
    </div>
  );
}
