-- What acronyms stand for, as stored papers define them ("Computer-Aided
-- Design (CAD)"), with how many papers did: the radar reads a reader's
-- acronym in the sense they mean and adds the other spelling of a term
-- ("also matching"). Counted once per paper, when it is first stored.
-- Keep in step with the other backend's folder.
CREATE TABLE acronyms (
    acronym   TEXT    NOT NULL,
    long_form TEXT    NOT NULL,
    papers    INTEGER NOT NULL,
    PRIMARY KEY (acronym, long_form)
);
