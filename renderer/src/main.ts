import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { chooseApi } from './lib/api/platform.ts';
import { createStores } from './lib/stores/index.ts';

mount(App, { target: document.getElementById('app')!, props: { stores: createStores(chooseApi(window)) } });
