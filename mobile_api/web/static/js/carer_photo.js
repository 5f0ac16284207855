// Carers' photos with consent (issue 9): the owner's form on the carers page and the
// carer's own on their page. A photo is sent only with the consent box ticked; the hub
// re-encodes it (no metadata, at most 512 px) and refuses it without consent.
//
//   mountOwnerPhotos($("#photos"), home, carers);    // carers page (manage_carers)
//   mountMyPhotos($("#my-photos"));                  // the carer's own page

import { api } from "./api.js";
import { $, clearErrors, el, fail, notify, showErrors } from "./ui.js";

const MAX_BYTES = 2 * 1024 * 1024;

/** The file's bytes as base64 (without the data: URL prefix). */
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function fileErrors(file, field) {
  if (!file) return [{ field, text: "Choose a photo (JPEG or PNG)" }];
  if (!["image/jpeg", "image/png"].includes(file.type)) return [{ field, text: "The photo must be a JPEG or PNG" }];
  if (file.size > MAX_BYTES) return [{ field, text: "The photo must be smaller than 2 MB" }];
  return [];
}

function group(id, label, control, hint) {
  return el("div", { class: "form-group", id: `${id}-group` },
    el("label", { class: "label", for: id, text: label }),
    hint ? el("p", { class: "hint", id: `${id}-hint`, text: hint }) : null,
    el("p", { class: "error-message", id: `${id}-error`, hidden: true }),
    control);
}

function consentBox(id, text) {
  return el("div", { class: "form-group", id: `${id}-group` },
    el("p", { class: "error-message", id: `${id}-error`, hidden: true }),
    el("div", { class: "checkbox" },
      el("input", { type: "checkbox", id, name: id }),
      el("label", { for: id, text })));
}

function photoUrl(home, carer) {
  return `/api/homes/${encodeURIComponent(home)}/carers/${encodeURIComponent(carer)}/photo`;
}

// -- the carers page: the owner records a carer's consent and uploads for them -------------

export async function mountOwnerPhotos(node, home, carers) {
  const names = new Map(carers.map((c) => [c.person_id, c.name]));
  const list = el("ul", { class: "list carer-photos", id: "carer-photo-list" });
  const form = el("form", { id: "photo-form", novalidate: true },
    group("photo-carer", "Carer", el("select", { class: "select", id: "photo-carer", name: "carer" },
      carers.map((c) => el("option", { value: c.person_id, text: c.name })))),
    group("photo-file", "Photo", el("input", { class: "input", id: "photo-file", type: "file",
      accept: "image/jpeg,image/png", "aria-describedby": "photo-file-hint" }), "A JPEG or PNG, up to 2 MB."),
    group("photo-statement", "How did the carer agree?", el("textarea", { class: "textarea", id: "photo-statement",
      rows: 3, maxlength: 1000, "aria-describedby": "photo-statement-hint" }),
    "For example: “Sam agreed in person on 3 March.” This is kept with the photo."),
    consentBox("photo-consent", "The carer agrees that this home’s family sees this photo on the ring screen and this page."),
    el("button", { class: "button", type: "submit", id: "photo-upload", text: "Add photo" }));
  form.addEventListener("submit", (event) => ownerUpload(event, home, () => load()));
  node.replaceChildren(el("h2", { id: "photos-heading", text: "Carers’ photos" }),
    el("p", { text: "A photo helps the family see who is at the door. Add one only with the carer’s consent; removing it withdraws the consent." }),
    list, form);
  node.hidden = false;

  async function load() {
    const photos = await api(`/api/homes/${encodeURIComponent(home)}/carer-photos`);
    list.replaceChildren(...photos.map((p) => {
      const name = names.get(p.carer) || "A carer";
      return el("li", { class: "carer-photo-item" },
        el("img", { class: "carer-photo", src: p.photo_url, alt: `Photo of ${name}`, width: 64 }),
        el("strong", { text: ` ${name} ` }),
        el("span", { class: "hint", text: p.consent_by === "carer" ? "consent given by the carer"
          : `consent recorded: ${p.consent_statement || ""}` }),
        el("button", { type: "button", class: "button button-small button-warning", text: "Remove",
          "aria-label": `Remove the photo of ${name}`, onclick: () => remove(home, p.carer, load) }));
    }));
  }
  await load();
}

async function ownerUpload(event, home, reload) {
  event.preventDefault();
  const carer = $("#photo-carer").value;
  const file = $("#photo-file").files[0];
  const statement = $("#photo-statement").value.trim();
  const errors = fileErrors(file, "photo-file");
  if (!carer) errors.unshift({ field: "photo-carer", text: "Choose a carer" });
  if (statement.length < 10) errors.push({ field: "photo-statement", text: "Say how the carer agreed" });
  if (!$("#photo-consent").checked) {
    errors.push({ field: "photo-consent", text: "Tick the box to confirm the carer agrees" });
  }
  if (errors.length) return showErrors(errors);
  try {
    clearErrors();
    const image = await readBase64(file);
    await api(photoUrl(home, carer), { method: "PUT", body: { image, consent: true, statement } });
    event.target.reset();
    notify("Photo added.");
    await reload();
  } catch (error) {
    fail(error);
  }
}

async function remove(home, carer, reload) {
  try {
    await api(photoUrl(home, carer), { method: "DELETE" });
    notify("Photo removed: the consent is withdrawn.");
    await reload();
  } catch (error) {
    fail(error);
  }
}

// -- the carer's own page ---------------------------------------------------------------

export async function mountMyPhotos(node, person) {
  const homes = await api("/api/my/carer-photos");
  if (homes.length === 0) return;
  node.replaceChildren(el("h2", { text: "My photo" }),
    el("p", { text: "You may add a photo so the family knows who is at the door. It is only shown to that home’s family, and you can remove it at any time." }),
    el("ul", { class: "list" }, homes.map((h, i) => myHome(h, i, person, () => mountMyPhotos(node, person)))));
  node.hidden = false;
}

function myHome(h, i, person, reload) {
  const item = el("li", { class: "visit" }, el("h3", { text: h.home_name }));
  if (h.photo) {
    item.append(el("img", { class: "carer-photo", src: h.photo.photo_url, alt: "Your photo", width: 96 }),
      el("button", { type: "button", class: "button button-secondary", id: `photo-remove-${i}`,
        text: "Remove my photo", onclick: () => remove(h.home, person, reload) }));
    return item;
  }
  const file = `my-photo-${i}`;
  const consent = `my-consent-${i}`;
  const form = el("form", { novalidate: true },
    group(file, "Photo", el("input", { class: "input", id: file, type: "file", accept: "image/jpeg,image/png" })),
    consentBox(consent, `I agree that the family of ${h.home_name} sees this photo when I am expected.`),
    el("button", { class: "button", type: "submit", text: "Add my photo" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = $(`#${file}`).files[0];
    const errors = fileErrors(chosen, file);
    if (!$(`#${consent}`).checked) errors.push({ field: consent, text: "Tick the box to agree, or leave the photo out" });
    if (errors.length) return showErrors(errors);
    try {
      clearErrors();
      await api(photoUrl(h.home, person), { method: "PUT", body: { image: await readBase64(chosen), consent: true } });
      notify("Photo added.");
      await reload();
    } catch (error) {
      fail(error);
    }
  });
  item.append(form);
  return item;
}
