/** Entry point: mounts the app and registers its service worker (notifications while the app is closed). */
import { render } from 'preact';
import { App } from './app.js';
import { appServiceWorker, followNotificationClicks } from './notifications/service-worker.js';
import './styles.css';

render(<App />, document.getElementById('app') as HTMLElement);
followNotificationClicks();
void appServiceWorker();
